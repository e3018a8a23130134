/**
 * State and data on S3 with DynamoDB (SPEC §5): what the hand-written pipeline left — Gold Parquet
 * in S3 and its DynamoDB watermark record (`watermark_type`, `last_processed_value`, no version) —
 * is refused by a run, naming `state adopt`, and taken over by it; a lost state record is refused
 * and reported by `state verify`. Real s3rver and dynalite; the CLI runs in-process (its `main`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteItemCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { smelterInProcess } from '../helpers/cli-in-process.js';
import { createStateTable, startDynalite } from '../helpers/dynalite-server.js';
import { createBucket, startS3rver, testS3Client, type S3Server } from '../helpers/s3-server.js';
import { S3Lake } from '../helpers/s3-lake.js';
import { queryDuckDB } from '../helpers/duckdb.js';
import { writeTempProject } from '../helpers/temp-project.js';

const FACT =
  "{{ config(materialized='incremental', external=true, schema='gold', location='gold/fact_ptr_transactions', watermark='doc_id') }}\n" +
  "select doc_id, amount from {{ source('silver', 'rows') }}\n{% if is_incremental() %}where doc_id > {{ watermark() }}{% endif %}\n";
const LEGACY_ITEM = {
  table_name: { S: 'gold.fact' },
  watermark_type: { S: 'max_doc_id' },
  last_processed_value: { S: '3' },
  last_processed_timestamp: { S: '2025-01-11T10:30:00Z' },
  rows_processed: { N: '3' },
};

let s3rver: S3Server;
let dynalite: Awaited<ReturnType<typeof startDynalite>>;
let s3: S3Client;
let dynamo: DynamoDBClient;
let projects = 0;
const savedEnv = { ...process.env };

beforeAll(async () => {
  s3rver = await startS3rver();
  dynalite = await startDynalite();
  s3 = testS3Client(s3rver.endpoint);
  dynamo = new DynamoDBClient({ endpoint: dynalite.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_ENDPOINT_URL_S3: s3rver.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
  });
}, 60_000);

afterAll(async () => {
  process.env = savedEnv;
  s3?.destroy();
  dynamo?.destroy();
  await s3rver?.close();
  await dynalite?.close();
});

const cli = smelterInProcess;

/** Silver rows doc_id 1..n. */
const silver = (n: number) => `doc_id,amount\n${Array.from({ length: n }, (_, i) => `${i + 1},${(i + 1) * 10}`).join('\n')}\n`;

/** A project on its own bucket and table, with the legacy pipeline's Gold Parquet (doc_id 1..3) and watermark record. */
async function legacyProject() {
  const n = ++projects;
  const bucket = `adopt-${n}`;
  const table = `adopt-state-${n}`;
  await createBucket(s3rver.endpoint, bucket);
  await createStateTable(dynamo, table);
  process.env.SMELTER_CACHE_DIR = mkdtempSync(join(tmpdir(), 'smelter-cache-'));
  const dir = writeTempProject({
    'project.yml': `name: adopt\ntarget: aws\ntargets:\n  aws: { database: ":memory:", threads: 1, storage: "s3://${bucket}/lake", state: { backend: dynamodb, table: ${table}, lease_seconds: 60 } }\nmodels:\n  +retain_superseded: 0\n`,
    'models/sources.yml': `version: 2\nsources:\n  - name: silver\n    external_location: "s3://${bucket}/silver/rows.csv"\n    tables:\n      - name: rows\n`,
    'models/fact.sql': FACT,
  });
  const parquet = join(mkdtempSync(join(tmpdir(), 'legacy-')), 'part-0.parquet');
  await queryDuckDB(':memory:', `COPY (SELECT * FROM (VALUES (1::BIGINT, 10::BIGINT), (2, 20), (3, 30)) t(doc_id, amount)) TO '${parquet}' (FORMAT parquet)`);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'lake/gold/fact_ptr_transactions/part-0.parquet', Body: readFileSync(parquet) }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'silver/rows.csv', Body: silver(3) }));
  await dynamo.send(new PutItemCommand({ TableName: table, Item: LEGACY_ITEM }));
  const lake = new S3Lake(s3, dynamo, bucket, 'lake', table);
  const snapshot = async () => ({ files: await lake.list(''), item: await lake.item('gold.fact') });
  return { dir, bucket, table, lake, snapshot };
}

describe('what the pipeline before smelter left, on S3 and DynamoDB', () => {
  it('a run refuses the legacy watermark record, naming adopt; nothing changes', async () => {
    const p = await legacyProject();
    const before = await p.snapshot();
    const run = await cli(p.dir, 'run');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      '  fact: gold.fact has a watermark record from before smelter (max_doc_id = 3), not smelter state; nothing was built (`smelter state adopt --select fact` takes it and the model\'s existing data over; `smelter state reset --select fact` rebuilds the model from its source instead)\n',
    );
    expect(await p.snapshot()).toEqual(before);
    const verify = await cli(p.dir, 'state', 'verify');
    expect(verify).toEqual({
      code: 1,
      stdout:
        'ERROR gold.fact: a watermark record from before smelter (max_doc_id = 3) (`smelter state adopt --select fact` takes it over)\n1 of 1 models: state and data disagree\n',
      stderr: '',
    });
  });

  it('state adopt takes over the Parquet and the watermark; the next run adds only the new rows', async () => {
    const p = await legacyProject();
    const adopted = await cli(p.dir, 'state', 'adopt', '--select', 'fact');
    expect(adopted).toEqual({
      code: 0,
      stdout: `Adopted gold.fact: adopted 1 files in s3://${p.bucket}/lake/gold/fact_ptr_transactions: 3 rows, watermark 3 (from the legacy record)\n`,
      stderr: '',
    });
    // The file stays where the old pipeline put it, and Athena's symlink manifest now lists it.
    expect((await p.lake.list('gold/fact_ptr_transactions')).map((f) => f.key)).toEqual(['_symlink_format_manifest/manifest', 'part-0.parquet']);
    const item = await p.lake.item('gold.fact');
    expect({ version: item?.version, value: item?.last_processed_value, type: item?.watermark_data_type, total: item?.rows_total }).toEqual({
      version: { N: '1' },
      value: { S: '3' },
      type: { S: 'BIGINT' },
      total: { N: '3' },
    });
    expect((await cli(p.dir, 'state', 'verify')).code).toBe(0);
    await s3.send(new PutObjectCommand({ Bucket: p.bucket, Key: 'silver/rows.csv', Body: silver(5) }));
    const run = await cli(p.dir, 'run');
    expect(run.stdout).toMatch(/OK incremental gold\.fact \.+ \[2 rows in/);
    expect((await p.lake.item('gold.fact'))?.last_processed_value).toEqual({ S: '5' });
    const files = (await p.lake.list('gold/fact_ptr_transactions')).filter((f) => f.key.endsWith('.parquet'));
    expect(files).toHaveLength(2);
  });

  it('a lost state record is refused (the files are not rebuilt over), and state reset allows the rebuild', async () => {
    const p = await legacyProject();
    expect((await cli(p.dir, 'state', 'adopt', '--select', 'fact')).code).toBe(0);
    await dynamo.send(new DeleteItemCommand({ TableName: p.table, Key: { table_name: { S: 'gold.fact' } } }));
    const before = await p.snapshot();
    const run = await cli(p.dir, 'run');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `  fact: gold.fact has 1 file in s3://${p.bucket}/lake/gold/fact_ptr_transactions but no state record: refusing to build it as a new model, which would replace that data; nothing was built`,
    );
    expect(await p.snapshot()).toEqual(before);
    expect((await cli(p.dir, 'state', 'reset', '--select', 'fact')).code).toBe(0);
    const rebuilt = await cli(p.dir, 'run');
    expect(rebuilt.stdout).toMatch(/OK incremental gold\.fact \.+ \[3 rows in/);
    expect((await p.lake.item('gold.fact'))?.version).toEqual({ N: '2' });
  });

  it('a state item that is not a smelter record (a field of the wrong type) is an error naming the item; nothing changes', async () => {
    const p = await legacyProject();
    expect((await cli(p.dir, 'state', 'adopt', '--select', 'fact')).code).toBe(0);
    await dynamo.send(
      new UpdateItemCommand({ TableName: p.table, Key: { table_name: { S: 'gold.fact' } }, UpdateExpression: 'SET rows_total = :t', ExpressionAttributeValues: { ':t': { S: 'many' } } }),
    );
    const before = await p.snapshot();
    const run = await cli(p.dir, 'run');
    expect(run).toEqual({
      code: 1,
      stdout: 'Running 1 model with 1 thread\n',
      stderr: `error: the DynamoDB item gold.fact in table ${p.table} is not a smelter state record: rows_total is missing or not a number (was it written by another tool? \`smelter state reset --select\` replaces it)\n`,
    });
    expect(await p.snapshot()).toEqual(before);
  });

  it('a state record pointing at the manifest of another version is reported by state verify', async () => {
    const p = await legacyProject();
    expect((await cli(p.dir, 'state', 'adopt', '--select', 'fact')).code).toBe(0);
    await dynamo.send(
      new UpdateItemCommand({ TableName: p.table, Key: { table_name: { S: 'gold.fact' } }, UpdateExpression: 'SET version = :v', ExpressionAttributeValues: { ':v': { N: '5' } } }),
    );
    const verify = await cli(p.dir, 'state', 'verify');
    expect(verify).toEqual({
      code: 1,
      stdout: `ERROR gold.fact: the state record (version 5) points at s3://${p.bucket}/lake/.smelter/manifests/gold.fact/v1.json, which is the manifest of gold.fact version 1 (\`smelter state reset --select fact\` rebuilds it)\n1 of 1 models: state and data disagree\n`,
      stderr: '',
    });
  });
});

