import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Session, StorageError, type NodeResult, type RunResult } from '../../runtime/index.js';
import { awsBackends } from '../../adapters/aws/backends.js';
import { handler, InvocationFailure } from '../../adapters/lambda/handler.js';
import { DynamoDbStateStore } from '../../adapters/dynamodb/dynamodb-state-store.js';
import { createStateTable, startDynalite } from '../helpers/dynalite-server.js';
import { startS3Proxy, type ProxyRequest, type S3Proxy } from '../helpers/s3-proxy.js';
import { createBucket, startS3rver, testS3Client, type S3Server } from '../helpers/s3-server.js';
import { S3Lake } from '../helpers/s3-lake.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * S3 faults on the production path, in process (a Session with the AWS backends, as the Lambda
 * adapter runs it): s3rver behind the proxy, which injects the faults, and dynalite. A passing
 * fault — 503 SlowDown, a reset connection, a truncated body — is retried and the run ends with
 * the right rows. A persistent one fails the model with a transient StorageError and changes
 * nothing: its state item, its file-set manifests and its files are as they were, byte for byte;
 * once the fault is gone the next run succeeds. The Lambda handler names such a failure Transient,
 * and a DynamoDB fault that may pass too; a failure a retry would repeat it names ModelFailed.
 */

const MODELS = ['fact_append', 'fact_merge', 'summary'] as const;
type Model = (typeof MODELS)[number];

const SOURCE_KEY = 'landing/rows.csv';
const FACT_APPEND =
  "{{ config(materialized='incremental', external=true, watermark='doc_id') }}\nselect doc_id, amount from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where doc_id > {{ watermark() }}{% endif %}\n";
/** Re-reads the previous batch's last document: merge rewrites the committed file holding it. */
const FACT_MERGE =
  "{{ config(materialized='incremental', external=true, unique_key='doc_id', watermark='doc_id') }}\nselect doc_id, amount * 2 as amount from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where doc_id > {{ watermark() }} - 1{% endif %}\n";
const SUMMARY = "{{ config(materialized='table', external=true) }}\nselect doc_id % 3 as grp, count(*) as n, sum(amount) as total from {{ ref('fact_append') }} group by 1\n";

/** Batch b: documents 3b-2..3b, plus the previous batch's last one again. */
function batch(b: number): string {
  const docs = b === 1 ? [1, 2, 3] : [3 * b - 3, 3 * b - 2, 3 * b - 1, 3 * b];
  return `doc_id,amount\n${docs.map((d) => `${d},${d * 10}`).join('\n')}\n`;
}

function expectedRows(b: number): Record<Model, Array<Record<string, string>>> {
  const docs = Array.from({ length: 3 * b }, (_, i) => i + 1);
  return {
    fact_append: docs.map((d) => ({ doc_id: String(d), amount: String(d * 10) })),
    fact_merge: docs.map((d) => ({ doc_id: String(d), amount: String(d * 20) })),
    summary: [0, 1, 2].map((g) => {
      const members = docs.filter((d) => d % 3 === g);
      return { grp: String(g), n: String(members.length), total: String(members.reduce((s, d) => s + d * 10, 0)) };
    }),
  };
}

let s3rver: S3Server;
let proxy: S3Proxy;
/** In front of dynalite: the same proxy passes DynamoDB's requests on (POST /, X-Amz-Target) and fails them on demand. */
let dynamoProxy: S3Proxy;
let dynalite: Awaited<ReturnType<typeof startDynalite>>;
let s3: S3Client;
let dynamo: DynamoDBClient;
let projects = 0;
const savedEnv = { ...process.env };

beforeAll(async () => {
  s3rver = await startS3rver();
  proxy = await startS3Proxy(s3rver.endpoint);
  dynalite = await startDynalite();
  dynamoProxy = await startS3Proxy(dynalite.endpoint);
  s3 = testS3Client(s3rver.endpoint);
  dynamo = new DynamoDBClient({ endpoint: dynalite.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  // The SDK reads these from the process environment, as on Lambda. The client's retries are its
  // defaults (5 attempts, backoff from 100 ms; 500 ms for SlowDown).
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_ENDPOINT_URL_S3: proxy.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoProxy.endpoint,
  });
}, 60_000);

afterAll(async () => {
  process.env = savedEnv;
  s3?.destroy();
  dynamo?.destroy();
  await proxy?.close();
  await dynamoProxy?.close();
  await s3rver?.close();
  await dynalite?.close();
});

interface Project {
  readonly dir: string;
  readonly bucket: string;
  readonly lake: S3Lake;
  land(b: number): Promise<void>;
}

/**
 * A project on its own bucket and state table, its source a CSV object in the bucket, and a fresh
 * object cache (so a changed source object is downloaded again: a GET fault reaches it).
 */
async function newProject(): Promise<Project> {
  const n = ++projects;
  const bucket = `faults-${n}`;
  const table = `faults-state-${n}`;
  await createBucket(s3rver.endpoint, bucket);
  await createStateTable(dynamo, table);
  process.env.SMELTER_CACHE_DIR = mkdtempSync(join(tmpdir(), 'smelter-cache-'));
  const dir = writeTempProject({
    'project.yml':
      'name: awsfaults\ntarget: aws\ntargets:\n' +
      `  aws: { database: ":memory:", threads: 1, storage: "s3://${bucket}/lake", state: { backend: dynamodb, table: ${table}, lease_seconds: 60 } }\n`,
    'models/sources.yml': `version: 2\nsources:\n  - name: landing\n    external_location: "s3://${bucket}/${SOURCE_KEY}"\n    tables:\n      - name: rows\n`,
    'models/fact_append.sql': FACT_APPEND,
    'models/fact_merge.sql': FACT_MERGE,
    'models/summary.sql': SUMMARY,
  });
  const land = async (b: number) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: SOURCE_KEY, Body: batch(b) }));
  };
  await land(1);
  return { dir, bucket, lake: new S3Lake(s3, dynamo, bucket, 'lake', table), land };
}

const session = (project: Project) => new Session({ projectDir: project.dir, env: {}, backends: awsBackends });

function statuses(run: RunResult): Record<string, string> {
  return Object.fromEntries(run.results.map((r) => [r.name, r.status]));
}

function expectSuccess(run: RunResult): void {
  expect(run.results.filter((r) => r.status !== 'success').map((r) => `${r.name}: ${r.status} ${r.message ?? ''}`)).toEqual([]);
}

/**
 * Every model's rows (read as Athena would) are those after batch b; each location holds exactly
 * the files its committed manifest refers to (its files, and superseded ones it retains), and the
 * symlink manifests list its files; nothing is staged or leased.
 */
async function expectCommitted(project: Project, b: number): Promise<void> {
  const expected = expectedRows(b);
  for (const model of MODELS) {
    const view = await project.lake.inspect(`main.${model}`, `main/${model}`);
    expect({ model, rows: view.rows }).toEqual({ model, rows: expected[model] });
    expect({ model, location: view.location, symlinked: view.symlinked, mismatches: view.mismatches, manifests: view.manifests }).toEqual({
      model,
      location: [...view.committed, ...view.retained].sort(),
      symlinked: view.committed,
      mismatches: [],
      manifests: [view.pointer!.split('/').pop()],
    });
  }
  expect(await project.lake.list('.smelter/staging')).toEqual([]);
  expect(await project.lake.leases()).toEqual([]);
}

/** A model's state item, file-set manifests and files, byte for byte. */
async function snapshot(project: Project, model: Model) {
  return {
    item: await project.lake.item(`main.${model}`),
    manifests: await project.lake.snapshot(`.smelter/manifests/main.${model}`),
    files: await project.lake.snapshot(`main/${model}`),
  };
}

/** Requests on `bucket/key` starting with `prefix`. */
const under =
  (bucket: string, prefix: string, ...ops: Array<ProxyRequest['op']>) =>
  (r: ProxyRequest) =>
    r.bucket === bucket && r.key.startsWith(prefix) && ops.includes(r.op);

function failedModel(run: RunResult, model: Model): NodeResult {
  return run.results.find((r) => r.name === model)!;
}

describe('S3 faults during a run', () => {
  it('503 SlowDown, reset connections and truncated bodies are retried: the run succeeds with the right rows', async () => {
    const project = await newProject();
    const s = session(project);
    try {
      expectSuccess((await s.run('run', { target: 'aws' })).run);
      await project.land(2);
      const b = project.bucket;
      const faults = {
        // The new source object: two SlowDowns (retried by the SDK), then a body cut in half
        // (retried by the object cache).
        sourceSlowDown: proxy.fail({ match: under(b, SOURCE_KEY, 'GET'), times: 2, kind: '503' }),
        sourceTruncated: proxy.fail({ match: under(b, SOURCE_KEY, 'GET'), times: 1, kind: 'truncate' }),
        // A committed file-set manifest read back under the lease: a truncated body.
        manifestTruncated: proxy.fail({ match: under(b, 'lake/.smelter/manifests/', 'GET'), times: 1, kind: 'truncate' }),
        // Uploads of staged files, the manifest write, the publish and the clean-up.
        stagingSlowDown: proxy.fail({ match: under(b, 'lake/.smelter/staging/', 'PUT'), times: 2, kind: '503' }),
        manifestReset: proxy.fail({ match: under(b, 'lake/.smelter/manifests/', 'PUT'), times: 1, kind: 'reset' }),
        publishReset: proxy.fail({ match: under(b, 'lake/main/', 'COPY'), times: 1, kind: 'reset' }),
        symlinkSlowDown: proxy.fail({ match: under(b, 'lake/main/fact_merge/_symlink_format_manifest/', 'PUT'), times: 1, kind: '503' }),
        listSlowDown: proxy.fail({ match: under(b, 'lake/main/', 'LIST'), times: 1, kind: '503' }),
        // DeleteObjects is a request on the bucket (POST ?delete).
        deleteReset: proxy.fail({ match: (r) => r.bucket === b && r.op === 'DELETE', times: 1, kind: 'reset' }),
      };
      try {
        expectSuccess((await s.run('run', { target: 'aws' })).run);
      } finally {
        proxy.clearFaults();
      }
      expect(Object.fromEntries(Object.entries(faults).map(([name, f]) => [name, f.hits]))).toEqual({
        sourceSlowDown: 2,
        sourceTruncated: 1,
        manifestTruncated: 1,
        stagingSlowDown: 2,
        manifestReset: 1,
        publishReset: 1,
        symlinkSlowDown: 1,
        listSlowDown: 1,
        deleteReset: 1,
      });
      await expectCommitted(project, 2);
    } finally {
      await s.close();
    }
  }, 60_000);

  it("a persistent fault on the model's uploads: a transient StorageError, its state, manifests and files unchanged; the next run succeeds", async () => {
    const project = await newProject();
    const s = session(project);
    try {
      expectSuccess((await s.run('run', { target: 'aws' })).run);
      await project.land(2);
      const before = await snapshot(project, 'fact_merge');
      expect(before.item?.manifest_pointer?.S).toBe('.smelter/manifests/main.fact_merge/v1.json');
      const fault = proxy.fail({ match: under(project.bucket, 'lake/.smelter/staging/main.fact_merge/', 'PUT'), times: Infinity, kind: '503' });
      let run: RunResult;
      try {
        ({ run } = await s.run('run', { target: 'aws' }));
      } finally {
        proxy.clearFaults();
      }
      expect(fault.hits).toBeGreaterThan(1);
      expect(statuses(run)).toEqual({ fact_append: 'success', fact_merge: 'error', summary: 'success' });
      const error = failedModel(run, 'fact_merge').error;
      expect(error).toBeInstanceOf(StorageError);
      expect({ transient: (error as StorageError).transient, message: error!.message }).toEqual({
        transient: true,
        message: expect.stringMatching(/^uploading .* to s3:\/\/faults-\d+\/lake\/\.smelter\/staging\/main\.fact_merge\/.* failed: SlowDown \(HTTP 503\)/),
      });
      expect(await snapshot(project, 'fact_merge')).toEqual(before);
      // Nothing left behind: no staged file, no lease.
      expect(await project.lake.list('.smelter/staging')).toEqual([]);
      expect(await project.lake.leases()).toEqual([]);

      expectSuccess((await s.run('run', { target: 'aws' })).run);
      await expectCommitted(project, 2);
    } finally {
      await s.close();
    }
  }, 60_000);

  it('a persistent fault on every GET of the source: the models reading it fail with a transient StorageError and change nothing; the next run succeeds', async () => {
    const project = await newProject();
    const s = session(project);
    try {
      expectSuccess((await s.run('run', { target: 'aws' })).run);
      await project.land(2);
      const before = { fact_append: await snapshot(project, 'fact_append'), fact_merge: await snapshot(project, 'fact_merge'), summary: await snapshot(project, 'summary') };
      const fault = proxy.fail({ match: under(project.bucket, SOURCE_KEY, 'GET'), times: Infinity, kind: '503' });
      let run: RunResult;
      try {
        ({ run } = await s.run('run', { target: 'aws' }));
      } finally {
        proxy.clearFaults();
      }
      expect(fault.hits).toBeGreaterThan(1);
      expect(statuses(run)).toEqual({ fact_append: 'error', fact_merge: 'error', summary: 'skipped' });
      for (const model of ['fact_append', 'fact_merge'] as const) {
        const error = failedModel(run, model).error;
        expect(error).toBeInstanceOf(StorageError);
        expect({ model, transient: (error as StorageError).transient, message: error!.message }).toEqual({
          model,
          transient: true,
          message: expect.stringMatching(/^reading s3:\/\/faults-\d+\/landing\/rows\.csv failed: SlowDown \(HTTP 503\)/),
        });
      }
      expect({ fact_append: await snapshot(project, 'fact_append'), fact_merge: await snapshot(project, 'fact_merge'), summary: await snapshot(project, 'summary') }).toEqual(before);
      expect(await project.lake.list('.smelter/staging')).toEqual([]);
      expect(await project.lake.leases()).toEqual([]);

      expectSuccess((await s.run('run', { target: 'aws' })).run);
      await expectCommitted(project, 2);
    } finally {
      await s.close();
    }
  }, 60_000);
});

describe('the Lambda handler: failures a retry may cure', () => {
  afterAll(() => {
    delete process.env.SMELTER_PROJECT_DIR;
  });

  it('names a persistent S3 fault Transient (Step Functions retries it); nothing changed; it succeeds once the fault is gone', async () => {
    const project = await newProject();
    process.env.SMELTER_PROJECT_DIR = project.dir;
    const event = { command: 'run', target: 'aws' };
    expect(await handler(event)).toMatchObject({ status: 'success', watermarks: { 'main.fact_append': '3', 'main.fact_merge': '3' } });
    await project.land(2);
    const before = await snapshot(project, 'fact_merge');
    proxy.fail({ match: under(project.bucket, 'lake/.smelter/staging/main.fact_merge/', 'PUT'), times: Infinity, kind: '503' });
    let failure: unknown;
    try {
      await handler(event);
    } catch (error) {
      failure = error;
    } finally {
      proxy.clearFaults();
    }
    expect(failure).toBeInstanceOf(InvocationFailure);
    const summary = JSON.parse((failure as InvocationFailure).message) as { results: Array<{ unique_id: string; status: string; message?: string }> };
    expect(Object.fromEntries(summary.results.map((r) => [r.unique_id, r.status]))).toEqual({
      'model.awsfaults.fact_append': 'success',
      'model.awsfaults.fact_merge': 'error',
      'model.awsfaults.summary': 'success',
    });
    expect((failure as InvocationFailure).name).toBe('Transient');
    expect(await snapshot(project, 'fact_merge')).toEqual(before);

    expect(await handler(event)).toMatchObject({ status: 'success', watermarks: { 'main.fact_append': '6', 'main.fact_merge': '6' } });
    await expectCommitted(project, 2);
  }, 60_000);

  it('names a persistent DynamoDB fault Transient (Step Functions retries it); nothing changed; it succeeds once the fault is gone', async () => {
    const project = await newProject();
    process.env.SMELTER_PROJECT_DIR = project.dir;
    const event = { command: 'run', target: 'aws' };
    expect(await handler(event)).toMatchObject({ status: 'success' });
    await project.land(2);
    const before = { fact_append: await snapshot(project, 'fact_append'), fact_merge: await snapshot(project, 'fact_merge'), summary: await snapshot(project, 'summary') };
    // Every lease and commit is an UpdateItem: each connection is reset before dynalite sees it.
    const fault = dynamoProxy.fail({ match: (r) => r.headers['x-amz-target'] === 'DynamoDB_20120810.UpdateItem', times: Infinity, kind: 'reset' });
    let failure: unknown;
    try {
      await handler(event);
    } catch (error) {
      failure = error;
    } finally {
      dynamoProxy.clearFaults();
    }
    expect(fault.hits).toBeGreaterThan(0);
    expect(failure).toBeInstanceOf(InvocationFailure);
    expect((failure as InvocationFailure).name).toBe('Transient');
    expect((failure as InvocationFailure).message).toMatch(/DynamoDB UpdateItem \(lease\) on table faults-state-\d+ for main\.fact_append failed: TimeoutError: socket hang up/);
    expect({ fact_append: await snapshot(project, 'fact_append'), fact_merge: await snapshot(project, 'fact_merge'), summary: await snapshot(project, 'summary') }).toEqual(before);

    expect(await handler(event)).toMatchObject({ status: 'success', watermarks: { 'main.fact_append': '6', 'main.fact_merge': '6' } });
    await expectCommitted(project, 2);
  }, 60_000);

  it('names a failure a retry would repeat ModelFailed, not Transient: the state table does not exist', async () => {
    const project = await newProject();
    const dir = writeTempProject({
      'project.yml':
        'name: awsfaults\ntarget: aws\ntargets:\n' +
        `  aws: { database: ":memory:", threads: 1, storage: "s3://${project.bucket}/lake", state: { backend: dynamodb, table: no-such-table, lease_seconds: 60 } }\n`,
      'models/sources.yml': `version: 2\nsources:\n  - name: landing\n    external_location: "s3://${project.bucket}/${SOURCE_KEY}"\n    tables:\n      - name: rows\n`,
      'models/fact_append.sql': FACT_APPEND,
    });
    process.env.SMELTER_PROJECT_DIR = dir;
    let failure: unknown;
    try {
      await handler({ command: 'run', target: 'aws' });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(InvocationFailure);
    expect((failure as InvocationFailure).name).toBe('ModelFailed');
    expect((failure as InvocationFailure).message).toMatch(/the DynamoDB table no-such-table does not exist/);
    // Nothing was written: the bucket holds the landed source only.
    expect((await s3.send(new ListObjectsV2Command({ Bucket: project.bucket }))).Contents?.map((o) => o.Key)).toEqual([SOURCE_KEY]);
  }, 60_000);

  it('names a model whose lease another run holds ConcurrentRun (Step Functions waits the lease out)', async () => {
    const project = await newProject();
    process.env.SMELTER_PROJECT_DIR = project.dir;
    const event = { command: 'run', target: 'aws', select: ['fact_merge'] };
    expect(await handler(event)).toMatchObject({ status: 'success' });
    const other = await DynamoDbStateStore.open({ table: project.lake.table, leaseSeconds: 60, client: dynamo });
    const lease = await other.lease('main.fact_merge', 'another-run');
    let failure: unknown;
    try {
      await handler(event);
    } catch (error) {
      failure = error;
    } finally {
      await lease.release();
      other.close();
    }
    expect(failure).toBeInstanceOf(InvocationFailure);
    expect((failure as InvocationFailure).name).toBe('ConcurrentRun');
    expect((failure as InvocationFailure).message).toMatch(/another run holds main\.fact_merge: run another-run/);
    expect(await handler(event)).toMatchObject({ status: 'success' });
  }, 60_000);
});
