/**
 * The local stand-ins for AWS the benchmarks run the packaged Lambda against (bench/aws-bench.ts,
 * bench/backfill-bench.ts): s3rver as a child process, a counting proxy in front of it, dynalite,
 * a deployment's bucket and state table, and generated Silver uploaded into it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GENERATE = join(ROOT, 'dist', 'scripts', 'generate-silver.js');
const require = createRequire(import.meta.url);

/** s3rver as a child process (`--openssl-legacy-provider`: listings past one page need DES). */
export async function startS3rver(directory: string): Promise<{ endpoint: string; child: ChildProcess }> {
  const bin = require.resolve('s3rver/bin/s3rver.js');
  const child = spawn(process.execPath, ['--openssl-legacy-provider', bin, '--address', '127.0.0.1', '--port', '0', '--directory', directory, '--silent'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  process.once('exit', () => child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`s3rver did not start: ${out}`)), 15_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const m = /S3rver listening on [^\s:]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}): ${out}`)));
  });
  return { endpoint: `http://127.0.0.1:${port}`, child };
}

/** One request through the proxy: operation, `bucket/key` (LIST: `bucket/prefix`) and object bytes moved. */
export interface Rec {
  readonly op: 'GET' | 'PUT' | 'LIST' | 'HEAD' | 'DELETE' | 'COPY' | 'POST' | 'OTHER';
  readonly path: string;
  bytes: number;
}

/**
 * A counting HTTP proxy in front of s3rver (the minimum of tests/helpers/s3-proxy.ts, without its
 * faults): response bodies of successful GETs, request bodies of PUTs (multipart parts included).
 */
export async function startProxy(upstream: string): Promise<{ endpoint: string; take: () => Rec[]; close: () => void }> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  let records: Rec[] = [];
  const server: Server = createServer((req, res) => {
    const rec = classify(req);
    records.push(rec);
    const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent }, (ur) => {
      const status = ur.statusCode ?? 502;
      res.writeHead(status, ur.statusMessage, ur.rawHeaders);
      if (rec.op === 'GET' && status >= 200 && status < 300) ur.on('data', (c: Buffer) => (rec.bytes += c.length));
      ur.pipe(res);
      ur.once('error', () => req.socket.destroy());
    });
    up.once('error', () => req.socket.destroy());
    if (rec.op === 'PUT') req.on('data', (c: Buffer) => (rec.bytes += c.length));
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    take: () => {
      const taken = records;
      records = [];
      return taken;
    },
    close: () => {
      server.close();
      server.closeAllConnections();
      agent.destroy();
    },
  };
}

function classify(req: IncomingMessage): Rec {
  const url = new URL(req.url ?? '/', 'http://proxy');
  const method = req.method ?? 'GET';
  const [, bucketPart = '', ...keyParts] = url.pathname.split('/');
  const bucket = decodeURIComponent(bucketPart);
  const key = decodeURIComponent(keyParts.join('/'));
  const q = url.searchParams;
  let op: Rec['op'];
  let path = `${bucket}/${key}`;
  if (method === 'GET' && key === '' && bucket !== '') {
    op = 'LIST';
    path = `${bucket}/${q.get('prefix') ?? ''}`;
  } else if (method === 'GET') op = 'GET';
  else if (method === 'HEAD') op = 'HEAD';
  else if (method === 'PUT') op = req.headers['x-amz-copy-source'] === undefined ? 'PUT' : 'COPY';
  else if (method === 'DELETE' || (method === 'POST' && q.has('delete'))) op = 'DELETE';
  else if (method === 'POST') op = 'POST';
  else op = 'OTHER';
  return { op, path, bytes: 0 };
}

export async function startDynalite(): Promise<{ endpoint: string; close: () => void }> {
  const dynalite = require('dynalite') as (options: Record<string, number>) => Server;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

export function generate(silver: string, args: readonly string[]): number {
  const start = performance.now();
  const r = spawnSync(process.execPath, [GENERATE, ...args, '--out', silver], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`generate-silver ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return (performance.now() - start) / 1000;
}

export function parquetFiles(root: string): string[] {
  return (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet')).sort();
}

export async function createDeployment(s3: S3Client, dynamo: DynamoDBClient, bucket: string, table: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await dynamo.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'table_name', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'table_name', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  for (let i = 0; i < 200; i++) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: table }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`table ${table} did not become ACTIVE`);
}

/** Upload the Silver files the bucket does not have yet (straight to s3rver, not through the proxy). */
export async function upload(s3: S3Client, bucket: string, silver: string, files: readonly string[], uploaded: Set<string>): Promise<{ files: number; bytes: number }> {
  let n = 0;
  let bytes = 0;
  for (const f of files) {
    if (uploaded.has(f)) continue;
    const body = readFileSync(join(silver, f));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `silver/${f}`, Body: body }));
    uploaded.add(f);
    n++;
    bytes += body.length;
  }
  return { files: n, bytes };
}
