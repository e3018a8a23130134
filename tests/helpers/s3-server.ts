import { Agent } from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

/** A running s3rver: its endpoint (`http://127.0.0.1:PORT`) and the folder it keeps objects in. */
export interface S3Server {
  readonly endpoint: string;
  readonly directory: string;
  close(): Promise<void>;
}

const STARTUP_MS = 15_000;

/**
 * A real S3 API (s3rver, objects on disk) on 127.0.0.1 and a free port, for one test file. It runs
 * as a child process because listings longer than one page need `--openssl-legacy-provider`
 * (s3rver encrypts continuation tokens with DES), which a vitest worker cannot turn on for itself.
 * The child is killed on `close()` and when this process exits.
 */
export async function startS3rver(): Promise<S3Server> {
  const directory = mkdtempSync(join(tmpdir(), 'smelter-s3rver-'));
  const bin = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', bin, '--address', '127.0.0.1', '--port', '0', '--directory', directory, '--silent'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const killChild = () => child.kill('SIGKILL');
  process.once('exit', killChild);
  try {
    const port = await listeningPort(child);
    return {
      endpoint: `http://127.0.0.1:${port}`,
      directory,
      close: async () => {
        process.removeListener('exit', killChild);
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
          child.kill('SIGTERM');
          await exited;
        }
        rmSync(directory, { recursive: true, force: true });
      },
    };
  } catch (error) {
    killChild();
    process.removeListener('exit', killChild);
    rmSync(directory, { recursive: true, force: true });
    throw error;
  }
}

/** s3rver's CLI prints `S3rver listening on ADDRESS:PORT` even with --silent (it is a console.log of the CLI, not the logger). */
function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => fail(new Error(`s3rver did not start within ${STARTUP_MS} ms: ${stderr || stdout}`)), STARTUP_MS);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /S3rver listening on [^\s:]+:(\d+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`s3rver exited (${signal ?? code}) before listening: ${stderr || stdout}`)));
  });
}

/**
 * A client for s3rver, used by tests to seed and inspect objects behind smelter's back. The
 * checksum settings keep the SDK from framing streamed uploads as aws-chunked, which s3rver would
 * store verbatim. No keep-alive: s3rver closes an idle connection after 5 s, and a request sent on it
 * at that moment fails with "socket hang up" (a test that waits while it generates data hit it);
 * with one attempt and no retry, a fresh connection per request is what keeps the inspection exact.
 */
export function testS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    requestHandler: { httpAgent: new Agent({ keepAlive: false }) },
  });
}

/** Create `name` on the server at `endpoint`. */
export async function createBucket(endpoint: string, name: string): Promise<void> {
  const client = testS3Client(endpoint);
  try {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  } finally {
    client.destroy();
  }
}
