import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Session, type RunResult } from '../../runtime/index.js';
import { awsBackends } from '../../adapters/aws/backends.js';
import { main as generateSilver } from '../../scripts/generate-silver.js';
import { createBucket, startS3rver, testS3Client, type S3Server } from '../helpers/s3-server.js';
import { startS3Proxy } from '../helpers/s3-proxy.js';
import { createStateTable, startDynalite } from '../helpers/dynalite-server.js';
import { queryDuckDB } from '../helpers/duckdb.js';

/**
 * The production path on real local servers: the Gold project (this repository's models) built on
 * its `aws` target — Silver Parquet in S3 (s3rver), Gold Parquet written to S3, state in DynamoDB
 * (dynalite) — and compared row for row with the same Silver built on the embedded `dev` target.
 * S3 requests and bytes are counted by a proxy in front of s3rver.
 */

const ROOT = join(import.meta.dirname, '../..');
const BUCKET = 'congress-data';
const TABLE = 'smelter_state';
const MODELS = ['dim_date', 'dim_asset', 'dim_member', 'fact_ptr_transactions', 'agg_trending_stocks'] as const;
/**
 * The daily pipeline builds the models with their tests; tests of the Silver sources themselves
 * would read all of Silver every day (as the generated state machine, they are left out).
 */
const DAILY_EXCLUDE = ['source:silver'];
/** Columns stamped with the build time differ between any two builds. */
const STAMPS: Record<string, string> = { dim_member: ' exclude (gold_ingest_ts)', fact_ptr_transactions: ' exclude (gold_ingest_ts)' };

let s3rver: S3Server;
let proxy: Awaited<ReturnType<typeof startS3Proxy>>;
let dynalite: Awaited<ReturnType<typeof startDynalite>>;
let s3: S3Client;
const savedEnv = { ...process.env };

beforeAll(async () => {
  s3rver = await startS3rver();
  proxy = await startS3Proxy(s3rver.endpoint);
  dynalite = await startDynalite();
  await createBucket(s3rver.endpoint, BUCKET);
  s3 = testS3Client(s3rver.endpoint);
  // The SDK reads these from the process environment, as on Lambda.
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_ENDPOINT_URL_S3: proxy.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
    SMELTER_CACHE_DIR: mkdtempSync(join(tmpdir(), 'smelter-cache-')),
  });
  await createStateTable(new DynamoDBClient({ endpoint: dynalite.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }), TABLE);
}, 60_000);

afterAll(async () => {
  process.env = savedEnv;
  await proxy?.close();
  await s3rver?.close();
  await dynalite?.close();
});

/** A copy of the Gold project, its Silver under data/silver (the dev target reads it there). */
function goldProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'smelter-aws-gold-'));
  for (const part of ['project.yml', 'models', 'macros']) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
  // DuckDB's spill folder of the aws target, inside the test's folder.
  writeFileSync(join(dir, 'project.yml'), readFileSync(join(dir, 'project.yml'), 'utf8').replace('temp_directory: /tmp/duckdb', `temp_directory: ${join(dir, 'spill')}`));
  return dir;
}

/** Upload the local Silver files S3 does not have yet (as the Silver pipeline writes new objects). */
async function syncSilver(dir: string): Promise<number> {
  const root = join(dir, 'data/silver');
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'silver/' }));
  const present = new Set((listed.Contents ?? []).map((o) => o.Key));
  let uploaded = 0;
  for (const file of readdirSync(root, { recursive: true }) as string[]) {
    if (!file.endsWith('.parquet') || present.has(`silver/${file}`)) continue;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `silver/${file}`, Body: readFileSync(join(root, file)) }));
    uploaded++;
  }
  return uploaded;
}

/**
 * A Gold model as Athena would read it: the files its symlink manifest lists, downloaded.
 */
async function goldFromS3(model: string, into: string): Promise<string[]> {
  const manifest = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `gold/${model}/_symlink_format_manifest/manifest` }));
  const uris = (await manifest.Body!.transformToString()).split('\n').filter((l) => l !== '');
  const paths: string[] = [];
  for (const uri of uris) {
    const key = uri.replace(`s3://${BUCKET}/`, '');
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const path = join(into, key);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, await object.Body!.transformToByteArray());
    paths.push(path);
  }
  return paths;
}

async function rowsOfS3(model: string): Promise<unknown[]> {
  const paths = await goldFromS3(model, mkdtempSync(join(tmpdir(), 'smelter-athena-')));
  const list = paths.map((p) => `'${p}'`).join(', ');
  return queryDuckDB(':memory:', `select *${STAMPS[model] ?? ''} from read_parquet([${list}], union_by_name = true) order by all`);
}

async function rowsOfLocal(dir: string, model: string): Promise<unknown[]> {
  return queryDuckDB(join(dir, 'target/dev.duckdb'), `select *${STAMPS[model] ?? ''} from gold.${model} order by all`);
}

/** S3 bytes since the last reset: Silver read, Gold read and written (with smelter's own area). */
function traffic() {
  const silver = proxy.totals(`${BUCKET}/silver/`);
  const gold = proxy.totals(`${BUCKET}/gold/`);
  const own = proxy.totals(`${BUCKET}/.smelter/`);
  return { silverRead: silver.bytes.GET, goldRead: gold.bytes.GET + own.bytes.GET, goldWritten: gold.bytes.PUT + own.bytes.PUT, requests: proxy.snapshot().requests };
}

function expectSuccess(run: RunResult): void {
  expect(run.results.filter((r) => !['success', 'pass'].includes(r.status)).map((r) => `${r.name}: ${r.status} ${r.message ?? ''}`)).toEqual([]);
}

describe('the Gold project on S3 and DynamoDB', () => {
  it('builds from Silver in S3 into Gold in S3, then an appended day, with exactly the rows of the same days built locally', async () => {
    const dir = goldProject();
    const io = { stdout: () => undefined, stderr: (t: string) => expect.fail(t), cwd: dir };
    expect(await generateSilver(['--transactions', '50000', '--seed', '11'], io)).toBe(0);
    expect(await syncSilver(dir)).toBe(readdirSync(join(dir, 'data/silver'), { recursive: true }).filter((f) => String(f).endsWith('.parquet')).length);

    const awsSession = () => new Session({ projectDir: dir, env: { S3_BUCKET_NAME: BUCKET, WATERMARK_TABLE: TABLE }, backends: awsBackends });
    const local = new Session({ projectDir: dir, env: {} });
    let aws = awsSession();
    try {
      proxy.reset();
      expectSuccess((await aws.run('build', { target: 'aws', exclude: DAILY_EXCLUDE })).run);
      const full = traffic();
      expectSuccess((await local.run('build', { target: 'dev' })).run);
      for (const model of MODELS) expect({ model, rows: await rowsOfS3(model) }).toEqual({ model, rows: await rowsOfLocal(dir, model) });

      // The next day, as a cold Lambda meets it: new Silver objects (with late member changes), a
      // fresh session and an empty cache.
      expect(await generateSilver(['--append-day', '--seed', '11'], io)).toBe(0);
      expect(await syncSilver(dir)).toBeGreaterThan(0);
      await aws.close();
      aws = awsSession();
      process.env.SMELTER_CACHE_DIR = mkdtempSync(join(tmpdir(), 'smelter-cache-'));
      proxy.reset();
      expectSuccess((await aws.run('build', { target: 'aws', exclude: DAILY_EXCLUDE })).run);
      const day = traffic();
      expectSuccess((await local.run('build', { target: 'dev' })).run);
      for (const model of MODELS) expect({ model, rows: await rowsOfS3(model) }).toEqual({ model, rows: await rowsOfLocal(dir, model) });
      // Only the day's Silver objects are read (incremental_sources: new), not the history; what is
      // uploaded is the day's rows and the small models rebuilt, not the history again.
      expect(day.silverRead).toBeLessThanOrEqual(full.silverRead * 0.05);
      expect(day.goldWritten).toBeLessThanOrEqual(full.goldWritten * 0.1);
      // No httpfs: the fact reads {{ this }} (its keys and the trades a late member change restates),
      // so a cold run downloads its committed files, and the dimensions it joins.
      expect(day.goldRead).toBeGreaterThan(0);

      // A day with late member corrections: trades they cover are restated.
      expect(await generateSilver(['--append-day', '--seed', '11', '--late-changes', '2'], io)).toBe(0);
      expect(await syncSilver(dir)).toBeGreaterThan(0);
      expectSuccess((await aws.run('build', { target: 'aws', exclude: DAILY_EXCLUDE })).run);
      expectSuccess((await local.run('build', { target: 'dev' })).run);
      for (const model of MODELS) expect({ model, rows: await rowsOfS3(model) }).toEqual({ model, rows: await rowsOfLocal(dir, model) });

      // State lives in DynamoDB: the fact's watermark is the largest doc_id of Silver.
      const [{ max_doc }] = await queryDuckDB(':memory:', `select max(doc_id)::VARCHAR as max_doc from read_parquet('${join(dir, 'data/silver/transactions/*.parquet')}')`);
      const records = await aws.state(['gold.fact_ptr_transactions'], { target: 'aws' });
      expect(records.get('gold.fact_ptr_transactions')?.last_processed_value).toBe(max_doc);
    } finally {
      await aws.close();
      await local.close();
    }
  }, 240_000);

  it('reads a source in S3 with ** and Hive partition folders: the partition columns come from the keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smelter-hive-'));
    writeFileSync(join(dir, 'project.yml'), 'name: hive\ntargets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n');
    mkdirSync(join(dir, 'models'));
    writeFileSync(
      join(dir, 'models/sources.yml'),
      `version: 2\nsources:\n  - name: raw\n    external_location: "s3://${BUCKET}/hive/{name}/**/*.parquet"\n    tables:\n      - name: events\n`,
    );
    writeFileSync(join(dir, 'models/by_year.sql'), "{{ config(materialized='table') }}\nselect year, month, count(*) as events, sum(n) as total from {{ source('raw', 'events') }} group by all order by all\n");
    for (const [key, rows] of [
      ['year=2023/month=12/part-0.parquet', '(1), (2)'],
      ['year=2024/month=01/part-0.parquet', '(3)'],
      ['year=2024/month=02/a/part-0.parquet', '(4), (5), (6)'],
    ] as const) {
      const local = join(dir, 'upload.parquet');
      await queryDuckDB(':memory:', `copy (select n from (values ${rows}) t(n)) to '${local}' (format parquet)`);
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `hive/events/${key}`, Body: readFileSync(local) }));
    }
    const session = new Session({ projectDir: dir, env: {}, backends: awsBackends });
    try {
      expectSuccess((await session.run('run')).run);
    } finally {
      await session.close();
    }
    expect(await queryDuckDB(join(dir, 'target/dev.duckdb'), 'select year::INTEGER as year, month::INTEGER as month, events::INTEGER as events, total::INTEGER as total from main.by_year')).toEqual([
      { year: 2023, month: 12, events: 2, total: 3 },
      { year: 2024, month: 1, events: 1, total: 3 },
      { year: 2024, month: 2, events: 3, total: 15 },
    ]);
  });

  it('records each published file\'s ETag; a committed file replaced in S3 is an error naming it, and nothing changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smelter-etag-'));
    writeFileSync(
      join(dir, 'project.yml'),
      `name: etag\ntargets:\n  aws: { database: ":memory:", storage: "s3://${BUCKET}/etag", state: { backend: dynamodb, table: ${TABLE}, lease_seconds: 60 } }\n`,
    );
    mkdirSync(join(dir, 'models'));
    writeFileSync(join(dir, 'models/dim.sql'), "{{ config(materialized='table', external=true) }}\nselect range as id, 'x' || range as name from range(1000)\n");
    writeFileSync(join(dir, 'models/report.sql'), "select count(*) as n from {{ ref('dim') }}\n");
    const session = new Session({ projectDir: dir, env: {}, backends: awsBackends });
    try {
      expectSuccess((await session.run('run', { select: ['dim'] })).run);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'etag/.smelter/manifests/main.dim/' }));
      const manifestKey = listed.Contents![0].Key!;
      const manifest = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: manifestKey }))).Body!.transformToString()) as {
        files: Array<{ name: string; bytes: number; etag: string }>;
      };
      const [file] = manifest.files;
      const head = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `etag/main/dim/${file.name}` }));
      expect(file.etag).toBe(head.Contents![0].ETag);
      // Another writer replaces the committed file with other bytes of the same size.
      const original = await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `etag/main/dim/${file.name}` }))).Body!.transformToByteArray();
      const forged = Buffer.from(original);
      forged[forged.length - 20] ^= 0xff;
      const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `etag/main/dim/${file.name}`, Body: forged }));
      // The run refuses before anything reads the model (it makes its view first).
      await expect(session.run('run', { select: ['report'] })).rejects.toThrow(
        `committed file s3://${BUCKET}/etag/main/dim/${file.name} of main.dim has ETag ${put.ETag}, but its commit recorded ${file.etag}`,
      );
      const after = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: manifestKey }))).Body!.transformToString()) as unknown;
      expect(after).toEqual(manifest);
    } finally {
      await session.close();
    }
  });
});
