import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { DynamoDBClient, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import '../helpers/promise-with-resolvers.js';
import { packageLambda } from '../../scripts/package-lambda.js';
import { extractZip } from '../../scripts/zip-folder.js';
import { main as generateSilver } from '../../scripts/generate-silver.js';
import { createBucket, startS3rver, testS3Client, type S3Server } from '../helpers/s3-server.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { createStateTable, startDynalite } from '../helpers/dynalite-server.js';
import { queryDuckDB } from '../helpers/duckdb.js';

/**
 * The production path end to end, as a user deploys it: the zip of `npm run package:lambda`,
 * unpacked outside this repository; the definition `smelter stepfunctions --target aws` prints; a
 * local States Language interpreter (aws-local-stepfunctions) running that definition, each Task
 * invoking the unpacked `index.handler` in a fresh `node` with a clean environment (`env -i`) and an
 * empty object cache — a cold Lambda per invocation — against s3rver (behind a counting proxy) and
 * dynalite. The first execution on an empty bucket and table (the first deploy) and a second one
 * after a new day of Silver both succeed, and Gold as Athena reads it (the symlink manifests) holds
 * exactly the rows of the same Silver built locally on the `dev` target.
 */

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin', 'smelter.js');
const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:smelter';
/** The optimised integration: its Task gets `{FunctionName, Payload}` and returns `{Payload}`. */
const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const BUCKET = 'congress-data';
const TABLE = 'smelter_state';
const MODELS = ['dim_date', 'dim_asset', 'dim_member', 'fact_ptr_transactions', 'agg_trending_stocks'] as const;
/** Columns stamped with the build time differ between any two builds. */
const STAMPS: Record<string, string> = { dim_member: ' exclude (gold_ingest_ts)', fact_ptr_transactions: ' exclude (gold_ingest_ts)' };
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
/** What Lambda's context says is left of a 10-minute invocation. */
const REMAINING_MS = 600_000;
/** A child that has not answered by then is killed (the test's own budget is smaller). */
const INVOCATION_KILL_MS = 200_000;

type Definition = Record<string, unknown>;
type Json = Record<string, unknown>;
interface HandlerResult {
  status: string;
  invocation_id: string;
  results: Array<{ unique_id: string; status: string; rows: number | null }>;
  watermarks: Record<string, string | null>;
}
/** One Task invocation as the override saw it. */
interface Invocation {
  state: string;
  pid: number;
  cacheDir: string;
  cacheEmptyBefore: boolean;
  /** S3 requests while it ran: its own when invocations run one at a time (the Gold definition's do). */
  s3Requests: number;
  /** When it started and ended (ms, performance.now()). */
  startMs: number;
  endMs: number;
  event: Json;
  result?: HandlerResult;
  error?: { errorType: string; errorMessage: string; stderr: string };
}

let StateMachine: typeof import('aws-local-stepfunctions').StateMachine;
let validate: (definition: unknown) => { isValid: boolean; errors: unknown[] };
let s3rver: S3Server;
let proxy: S3Proxy;
let dynalite: Awaited<ReturnType<typeof startDynalite>>;
let s3: S3Client;
let dynamo: DynamoDBClient;
/** The unpacked function: index.js, the native binding, the project. */
let fn: string;
const scratch: string[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

beforeAll(async () => {
  ({ StateMachine } = await import('aws-local-stepfunctions'));
  validate = (await import('asl-validator')).default;
  // The zip, built once into a folder of this test's own, and the servers, side by side.
  const [zip] = await Promise.all([
    packageLambda({ projectDir: ROOT, out: join(tempDir('smelter-sfn-zip-'), 'lambda.zip') }),
    (async () => {
      s3rver = await startS3rver();
      proxy = await startS3Proxy(s3rver.endpoint);
      dynalite = await startDynalite();
      await createBucket(s3rver.endpoint, BUCKET);
      s3 = testS3Client(s3rver.endpoint);
      dynamo = new DynamoDBClient({ endpoint: dynalite.endpoint, region: 'us-east-1', credentials: CREDENTIALS });
      await createStateTable(dynamo, TABLE);
    })(),
  ]);
  // Unpacked where no node_modules of this repository (or any other) can be reached.
  fn = tempDir('smelter-sfn-fn-');
  extractZip(zip.zip, fn);
  rmSync(zip.folder, { recursive: true, force: true });
}, 120_000);

afterAll(async () => {
  dynamo?.destroy();
  s3?.destroy();
  await proxy?.close();
  await s3rver?.close();
  await dynalite?.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** Run `command args` to its end without blocking this process (the proxy and dynalite live in it). */
function runProcess(command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; pid: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, pid: child.pid!, stdout, stderr });
    });
  });
}

/** The built CLI, as a user runs it. */
async function smelter(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  // A variable given as undefined is left out of the child's environment.
  const childEnv = Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, v]) => v !== undefined));
  const run = await runProcess(process.execPath, [BIN, ...args], { cwd, env: childEnv, timeoutMs: 120_000 });
  if (run.code !== 0) throw new Error(`smelter ${args.join(' ')} exited ${run.code ?? run.signal}:\n${run.stderr}\n${run.stdout}`);
  return run.stdout;
}

/** Every Task state, with its Resource, inside Parallel branches and Map item processors too. */
function tasksOf(definition: Definition): Array<{ name: string; resource: string; state: Definition }> {
  const out: Array<{ name: string; resource: string; state: Definition }> = [];
  const visit = (states: Record<string, Definition>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') out.push({ name, resource: String(state.Resource), state });
      for (const branch of (state.Branches as Definition[] | undefined) ?? []) visit(branch.States as Record<string, Definition>);
      const processor = (state.ItemProcessor ?? state.Iterator) as Definition | undefined;
      if (processor) visit(processor.States as Record<string, Definition>);
    }
  };
  visit(definition.States as Record<string, Definition>);
  return out;
}

/** The script a clean `node` runs: Lambda's call of `index.handler`, its answer or its error's name on stdout. */
const INVOKE_SCRIPT = [
  "const { handler } = require(process.argv[1]);",
  'handler(JSON.parse(process.argv[2]), { getRemainingTimeInMillis: () => Number(process.argv[3]) }).then(',
  "  (result) => { process.stdout.write('\\n' + JSON.stringify(result) + '\\n'); },",
  "  (err) => { process.stdout.write('\\n' + JSON.stringify({ errorType: err.name, errorMessage: err.message }) + '\\n'); process.exitCode = 1; },",
  ');',
].join('\n');

/** A deployed function: its unpacked folder (code and project), its bucket and its state table. */
interface Deployment {
  fn: string;
  bucket: string;
  table: string;
}
/** The function of the repository's Gold project (`fn` is unpacked in beforeAll). */
const gold = (): Deployment => ({ fn, bucket: BUCKET, table: TABLE });

/**
 * A cold Lambda: a fresh `node` in the unpacked folder (Lambda's working directory is the
 * function's root), `env -i` with only what the function's configuration and runtime give it, and
 * an object cache folder of its own, empty.
 */
async function invokeCold(state: string, event: unknown, log: Invocation[], { fn, bucket, table } = gold()): Promise<HandlerResult> {
  const cacheDir = tempDir('smelter-sfn-cache-');
  const home = tempDir('smelter-sfn-home-');
  const env = {
    PATH: `${dirname(process.execPath)}:/usr/bin:/bin`,
    HOME: home,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: proxy.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
    S3_BUCKET_NAME: bucket,
    WATERMARK_TABLE: table,
    SMELTER_CACHE_DIR: cacheDir,
  };
  const invocation: Invocation = { state, pid: 0, cacheDir, cacheEmptyBefore: readdirSync(cacheDir).length === 0, s3Requests: 0, startMs: performance.now(), endMs: 0, event: event as Json };
  log.push(invocation);
  const before = Object.values(proxy.snapshot().requests).reduce((a, b) => a + b, 0);
  const run = await runProcess(
    'env',
    ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, '-e', INVOKE_SCRIPT, join(fn, 'index.js'), JSON.stringify(event), String(REMAINING_MS)],
    { cwd: fn, env: {}, timeoutMs: INVOCATION_KILL_MS },
  );
  invocation.endMs = performance.now();
  // Invocations of the Gold definition run one at a time: the requests since `before` are this one's.
  invocation.s3Requests = Object.values(proxy.snapshot().requests).reduce((a, b) => a + b, 0) - before;
  invocation.pid = run.pid;
  const last = run.stdout.trim().split('\n').at(-1) ?? '';
  let answer: Json | undefined;
  try {
    answer = JSON.parse(last) as Json;
  } catch {
    answer = undefined;
  }
  if (run.code === 0 && answer?.status === 'success') {
    invocation.result = answer as unknown as HandlerResult;
    return invocation.result;
  }
  // A handler error keeps its name, so Retry and Catch match it as on AWS; a process that died
  // without answering is Lambda's Runtime.ExitError.
  const errorType = typeof answer?.errorType === 'string' ? answer.errorType : 'Runtime.ExitError';
  const errorMessage = typeof answer?.errorMessage === 'string' ? answer.errorMessage : `exit ${run.code ?? run.signal}: ${run.stdout.slice(-2000)}`;
  invocation.error = { errorType, errorMessage, stderr: run.stderr.slice(-4000) };
  throw Object.assign(new Error(errorMessage), { name: errorType });
}

/**
 * One execution of `definition`, every Task overridden by a cold invocation of the unpacked
 * handler: the invocations, and the execution's error if it failed.
 */
async function run(definition: Definition, deployment = gold()): Promise<{ log: Invocation[]; error?: Error }> {
  const log: Invocation[] = [];
  const tasks = tasksOf(definition);
  const handlers = Object.fromEntries(
    tasks.map(({ name, resource }) => [
      name,
      resource === LAMBDA_INVOKE
        ? async (input: { Payload: unknown }) => ({ Payload: await invokeCold(name, input.Payload, log, deployment) })
        : (input: unknown) => invokeCold(name, input, log, deployment),
    ]),
  );
  const retryIntervalOverrides = Object.fromEntries(tasks.map(({ name }) => [name, 0]));
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: true } });
  const execution = machine.run({}, { overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides } });
  try {
    await execution.result;
    return { log };
  } catch (error) {
    return { log, error: error as Error };
  }
}

/** An execution that must succeed: its invocations, or the failures that stopped it. */
async function execute(definition: Definition, deployment = gold()): Promise<Invocation[]> {
  const { log, error } = await run(definition, deployment);
  if (error) {
    const failures = log.filter((i) => i.error).map((i) => `${i.state}: ${i.error!.errorType}: ${i.error!.errorMessage}\n${i.error!.stderr}`);
    expect.fail(`the execution failed (${error.name}: ${error.message})\n${failures.join('\n')}`);
  }
  return log;
}

/** The definition as a user prints it for the deployment's target (its lease sets the ConcurrentRun Retry). */
let printed: Promise<Definition> | undefined;
function printedDefinition(): Promise<Definition> {
  printed ??= smelter(['stepfunctions', '--function-arn', FUNCTION_ARN, '--target', 'aws'], ROOT, { S3_BUCKET_NAME: BUCKET, WATERMARK_TABLE: TABLE }).then(
    (text) => JSON.parse(text) as Definition,
  );
  return printed;
}

/** Upload the local Silver files the bucket does not have yet, as the Silver pipeline writes new objects. */
async function syncSilver(dir: string): Promise<string[]> {
  const root = join(dir, 'data/silver');
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'silver/' }));
  const present = new Set((listed.Contents ?? []).map((o) => o.Key));
  const uploaded: string[] = [];
  for (const table of ['transactions', 'members']) {
    for (const file of readdirSync(join(root, table)).filter((f) => f.endsWith('.parquet')).sort()) {
      const key = `silver/${table}/${file}`;
      if (present.has(key)) continue;
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: readFileSync(join(root, table, file)) }));
      uploaded.push(key);
    }
  }
  return uploaded;
}

/** A model as Athena reads it: the files its symlink manifest lists, downloaded, in one query. */
async function rowsOfS3(model: string, { bucket, location } = { bucket: BUCKET, location: `gold/${model}` }): Promise<unknown[]> {
  const into = tempDir('smelter-sfn-athena-');
  const manifest = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${location}/_symlink_format_manifest/manifest` }));
  const uris = (await manifest.Body!.transformToString()).split('\n').filter((l) => l !== '');
  expect(uris.length, `${model}: its manifest lists no file`).toBeGreaterThan(0);
  const paths: string[] = [];
  for (const uri of uris) {
    expect(uri.startsWith(`s3://${bucket}/${location}/`), uri).toBe(true);
    const key = uri.slice(`s3://${bucket}/`.length);
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const path = join(into, key);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, await object.Body!.transformToByteArray());
    paths.push(path);
  }
  const list = paths.map((p) => `'${p}'`).join(', ');
  return queryDuckDB(':memory:', `select *${STAMPS[model] ?? ''} from read_parquet([${list}], union_by_name = true) order by all`);
}

async function rowsOfLocal(dir: string, model: string): Promise<unknown[]> {
  return queryDuckDB(join(dir, 'target/dev.duckdb'), `select *${STAMPS[model] ?? ''} from gold.${model} order by all`);
}

async function maxDocId(dir: string): Promise<string> {
  const [{ max_doc }] = await queryDuckDB(':memory:', `select max(doc_id)::VARCHAR as max_doc from read_parquet('${join(dir, 'data/silver/transactions/*.parquet')}')`);
  return String(max_doc);
}

/**
 * What one execution's invocations prove: each Task invoked once (nothing failed, nothing was
 * retried), each in a process of its own started with an empty cache, every model of the project
 * built exactly once and every test the definition announces run exactly once, all passing.
 */
function checkExecution(log: Invocation[], definition: Definition, expectedTests: number): Map<string, HandlerResult> {
  const taskNames = tasksOf(definition).map((t) => t.name);
  const calls: Record<string, number> = {};
  for (const i of log) calls[i.state] = (calls[i.state] ?? 0) + 1;
  expect(calls).toEqual(Object.fromEntries(taskNames.map((n) => [n, 1])));
  expect(log.filter((i) => i.error).map((i) => `${i.state}: ${i.error!.errorType}`)).toEqual([]);
  // Cold: a process and an empty cache folder per invocation; and each went to S3 through the proxy.
  expect(new Set(log.map((i) => i.pid)).size).toBe(log.length);
  expect(log.every((i) => i.pid > 0)).toBe(true);
  expect(new Set(log.map((i) => i.cacheDir)).size).toBe(log.length);
  expect(log.map((i) => [i.state, i.cacheEmptyBefore])).toEqual(log.map((i) => [i.state, true]));
  for (const i of log) expect(i.s3Requests, `${i.state}: S3 requests through the proxy`).toBeGreaterThan(0);
  expect(new Set(log.map((i) => i.result!.invocation_id)).size).toBe(log.length);

  const results = log.flatMap((i) => i.result!.results.map((r) => ({ state: i.state, ...r })));
  const built = results.filter((r) => r.unique_id.startsWith('model.')).map((r) => r.unique_id.replace(/^model\.congress_gold\./, ''));
  expect([...built].sort()).toEqual([...MODELS].sort());
  const tests = results.filter((r) => r.unique_id.startsWith('test.') || r.unique_id.startsWith('unit_test.'));
  expect(new Set(tests.map((t) => t.unique_id)).size).toBe(tests.length);
  expect(tests.length).toBe(expectedTests);
  expect(results.filter((r) => !['success', 'pass'].includes(r.status)).map((r) => `${r.state} ${r.unique_id} ${r.status}`)).toEqual([]);
  return new Map(log.map((i) => [i.state, i.result!]));
}

describe('the Lambda zip, run by the state machine `smelter stepfunctions` prints', () => {
  it('builds the Gold project on an empty bucket and table, then after a new day, with exactly the rows of a local build', async () => {
    // The unpacked function is outside the repository: no node_modules above it to fall back on.
    expect(relative(ROOT, fn).startsWith('..')).toBe(true);
    for (let dir = dirname(fn); ; dir = dirname(dir)) {
      expect(existsSync(join(dir, 'node_modules')), `${dir}/node_modules`).toBe(false);
      if (dir === dirname(dir)) break;
    }

    const definition = await printedDefinition();
    expect(validate(definition)).toMatchObject({ isValid: true });
    const tasks = tasksOf(definition);
    expect(tasks.length).toBeGreaterThan(0);
    const leaseSeconds = Number(/lease_seconds: (\d+)/.exec(readFileSync(join(fn, 'project.yml'), 'utf8'))![1]);
    for (const { name, resource, state } of tasks) {
      expect([FUNCTION_ARN, LAMBDA_INVOKE], name).toContain(resource);
      const event = (resource === LAMBDA_INVOKE ? (state.Parameters as Json).Payload : state.Parameters) as Json;
      expect(event.target, name).toBe('aws');
      const retry = (state.Retry as Array<{ ErrorEquals: string[]; IntervalSeconds: number; BackoffRate: number; MaxAttempts: number }>).find((r) => r.ErrorEquals.includes('ConcurrentRun'))!;
      let waited = 0;
      for (let n = 0; n < retry.MaxAttempts; n++) waited += retry.IntervalSeconds * retry.BackoffRate ** n;
      expect(waited, `${name}: ConcurrentRun retries outlast the aws target's lease`).toBeGreaterThan(leaseSeconds);
    }
    const expectedTests = Number(/ and (\d+) tests? /.exec(String(definition.Comment))![1]);
    expect(expectedTests).toBeGreaterThan(0);

    // Silver: a few thousand trades, in a project folder of its own (the dev target reads it there).
    const dir = tempDir('smelter-sfn-project-');
    for (const part of ['project.yml', 'models', 'macros']) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
    const io = { stdout: () => undefined, stderr: (t: string) => expect.fail(t), cwd: dir };
    expect(await generateSilver(['--transactions', '3000', '--seed', '7'], io)).toBe(0);
    const first = await syncSilver(dir);
    expect(first.filter((k) => k.startsWith('silver/transactions/')).length).toBeGreaterThan(0);
    expect(first.filter((k) => k.startsWith('silver/members/')).length).toBeGreaterThan(0);

    // The first deploy: nothing in Gold, nothing in the state table.
    expect((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'gold/' }))).KeyCount ?? 0).toBe(0);
    expect((await dynamo.send(new ScanCommand({ TableName: TABLE }))).Count).toBe(0);

    const pids = new Set<number>();
    for (const day of [undefined, ['--append-day', '--seed', '7', '--late-changes', '2']]) {
      if (day) {
        expect(await generateSilver(day, io)).toBe(0);
        const uploaded = await syncSilver(dir);
        expect(uploaded.some((k) => /^silver\/transactions\/filed-\d{4}-\d{2}-\d{2}\.parquet$/.test(k))).toBe(true);
        expect(uploaded.some((k) => /^silver\/members\/changes-\d{4}-\d{2}-\d{2}\.parquet$/.test(k))).toBe(true);
      }
      const log = await execute(definition);
      const results = checkExecution(log, definition, expectedTests);
      for (const i of log) {
        expect(pids.has(i.pid), `${i.state}: a process of its own`).toBe(false);
        pids.add(i.pid);
      }

      // The same Silver, built locally on the dev target by the CLI; Gold in S3 has exactly its rows.
      await smelter(['build', '--project-dir', dir], dir);
      for (const model of MODELS) expect({ model, rows: await rowsOfS3(model) }).toEqual({ model, rows: await rowsOfLocal(dir, model) });

      // State in DynamoDB: the fact's watermark is the largest doc_id of Silver, as the handler said.
      const maxDoc = await maxDocId(dir);
      const item = await dynamo.send(new GetItemCommand({ TableName: TABLE, Key: { table_name: { S: 'gold.fact_ptr_transactions' } }, ConsistentRead: true }));
      expect(item.Item?.last_processed_value?.S).toBe(maxDoc);
      const watermarks = [...results.values()].filter((r) => 'gold.fact_ptr_transactions' in r.watermarks).map((r) => r.watermarks['gold.fact_ptr_transactions']);
      expect(watermarks).toEqual([maxDoc]);
    }
  }, 240_000);

  it('prints the same definition without the function\'s environment (a deploy pipeline has none)', async () => {
    const args = ['stepfunctions', '--function-arn', FUNCTION_ARN, '--target', 'aws'];
    // Printed afresh: the interpreter adds fields to the definition object it runs.
    const withEnv = await smelter(args, ROOT, { S3_BUCKET_NAME: BUCKET, WATERMARK_TABLE: TABLE });
    const withoutEnv = await smelter(args, ROOT, { S3_BUCKET_NAME: undefined, WATERMARK_TABLE: undefined });
    expect(JSON.parse(withoutEnv)).toEqual(JSON.parse(withEnv));
  });

  it("fails with the handler's error name, which Retry does not retry and Catch carries to the Fail state", async () => {
    // The first Task's event, selecting a model the bundled project does not have: ProjectError.
    const definition = structuredClone(await printedDefinition());
    const [first] = tasksOf(definition);
    const event = (first.resource === LAMBDA_INVOKE ? (first.state.Parameters as Json).Payload : first.state.Parameters) as Json;
    event.select = ['no_such_model'];
    delete event.exclude;
    const { log, error } = await run(definition);
    expect(log.map((i) => [i.state, i.error?.errorType])).toEqual([[first.name, 'ProjectError']]);
    expect(log[0].error!.errorMessage).toContain("select 'no_such_model' matches no enabled node");
    expect(error?.name).toBe('ExecutionError');
    expect((error as { cause?: { name?: string } } | undefined)?.cause?.name).toBe('ProjectError');
  }, 60_000);
});

/**
 * A backfill of a microbatch model, as `smelter stepfunctions --event-time-start/--event-time-end`
 * prints it, over the same unpacked code with a small project of its own (a bucket and a state
 * table of its own too): a Map over the batches at MaxConcurrency 3, whose items build the model
 * only; the unit test before the batches, the data tests once after them. With --full-refresh, the
 * first batch alone replaces the model (what was there before goes, the days outside the window
 * too), then the other batches fill it at once; a data test that fails on the new rows fails the
 * execution after the Map, every batch committed.
 */
describe('a backfill of a microbatch model, run by the state machine', () => {
  const PROJECT: Record<string, string> = {
    'project.yml': [
      'name: backfill',
      'target: aws',
      'targets:',
      '  aws:',
      '    database: ":memory:"',
      '    threads: 1',
      `    storage: "s3://{{ env_var('S3_BUCKET_NAME') }}"`,
      `    state: { backend: dynamodb, table: "{{ env_var('WATERMARK_TABLE') }}", lease_seconds: 60 }`,
      '',
    ].join('\n'),
    'models/sources.yml': [
      'version: 2',
      'sources:',
      '  - name: raw',
      `    external_location: "s3://{{ env_var('S3_BUCKET_NAME') }}/raw/{name}/*.parquet"`,
      '    tables:',
      '      - name: events',
      '        config: { event_time: ts }',
      // The unit test's given rows need it: the Lambda reads an S3 source only for a model that reads it.
      '        columns: [{ name: ts, data_type: TIMESTAMP }]',
      '',
    ].join('\n'),
    'models/daily.sql':
      "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='day', batch_size='day', begin='2024-06-01', external=true, schema='mb') }}\n" +
      "select cast(ts as date) as day, count(*) as events from {{ source('raw', 'events') }} group by 1\n",
    'models/schema.yml': [
      'version: 2',
      'models:',
      '  - name: daily',
      '    columns:',
      '      - { name: day, data_tests: [unique] }',
      'unit_tests:',
      '  - name: daily_counts',
      '    model: daily',
      '    given:',
      `      - { input: "source('raw', 'events')", rows: [{ ts: "2024-06-01 01:00:00" }, { ts: "2024-06-01 02:00:00" }] }`,
      "    expect: { rows: [{ day: '2024-06-01', events: 2 }] }",
      '',
    ].join('\n'),
    // Passes while no day has more than 2 events.
    'data_tests/no_big_day.sql': "select * from {{ ref('daily') }} where events > 2\n",
  };
  const DAILY = 'model.backfill.daily';
  const DATA_TESTS = ['test.backfill.no_big_day', 'test.backfill.unique_daily_day'];

  /** Events on S3 as the project's source reads them: one Parquet file of `timestamps`. */
  async function putEvents(d: Deployment, file: string, timestamps: string[]): Promise<void> {
    const path = join(tempDir('smelter-sfn-events-'), file);
    const values = timestamps.map((t) => `(TIMESTAMP '${t}')`).join(', ');
    await queryDuckDB(':memory:', `copy (select * from (values ${values}) t(ts)) to '${path}' (format parquet)`);
    await s3.send(new PutObjectCommand({ Bucket: d.bucket, Key: `raw/events/${file}`, Body: readFileSync(path) }));
  }

  /** `smelter stepfunctions` for the backfill of [start, end) at MaxConcurrency 3. */
  async function backfillDefinition(dir: string, d: Deployment, start: string, end: string, more: string[] = []): Promise<Definition> {
    const args = ['stepfunctions', '--project-dir', dir, '--target', 'aws', '--function-arn', FUNCTION_ARN, '--event-time-start', start, '--event-time-end', end, '--max-concurrency', '3', ...more];
    const definition = JSON.parse(await smelter(args, dir, { S3_BUCKET_NAME: d.bucket, WATERMARK_TABLE: d.table })) as Definition;
    expect(validate(structuredClone(definition))).toMatchObject({ isValid: true });
    return definition;
  }

  /** The states of the model's branch, in the order they run. */
  function branchStates(definition: Definition): string[] {
    const level = (definition.States as Record<string, Definition>).level_1;
    const [branch] = level.Branches as Array<{ StartAt: string; States: Record<string, Definition> }>;
    const names: string[] = [];
    for (let name: string | undefined = branch.StartAt; name !== undefined; name = branch.States[name].Next as string | undefined) names.push(name);
    return names;
  }

  const results = (i: Invocation) => i.result!.results.map((r) => `${r.unique_id} ${r.status}`);
  /** Some two of these invocations ran at the same time. */
  const overlapped = (xs: Invocation[]) => xs.some((a) => xs.some((b) => a !== b && a.startMs < b.startMs && b.startMs < a.endMs));

  /** The model's committed state: its batches and rows_total, as its DynamoDB item holds them. */
  async function stateOf(d: Deployment) {
    const item = (await dynamo.send(new GetItemCommand({ TableName: d.table, Key: { table_name: { S: 'mb.daily' } }, ConsistentRead: true }))).Item;
    return { batches: JSON.parse(item?.batches?.S ?? 'null') as unknown, rows_total: Number(item?.rows_total?.N) };
  }

  it('--full-refresh replaces the model once, before the batches that fill it at once; the tests run once, after them', async () => {
    // The project, and a function of its own: the unpacked code with this project at its root.
    const d: Deployment = { fn: tempDir('smelter-sfn-backfill-fn-'), bucket: 'backfill-data', table: 'smelter_state_backfill' };
    const dir = tempDir('smelter-sfn-backfill-project-');
    for (const [file, text] of Object.entries(PROJECT)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
    for (const part of readdirSync(fn).filter((p) => !['project.yml', 'models', 'macros', 'seeds', 'data_tests'].includes(p))) cpSync(join(fn, part), join(d.fn, part), { recursive: true });
    for (const part of ['project.yml', 'models', 'data_tests']) cpSync(join(dir, part), join(d.fn, part), { recursive: true });
    await createBucket(s3rver.endpoint, d.bucket);
    await createStateTable(dynamo, d.table);
    await putEvents(d, 'first.parquet', ['2024-06-01 01:00:00', '2024-06-02 01:00:00', '2024-06-02 02:00:00', '2024-06-03 05:00:00', '2024-06-04 01:00:00', '2024-06-05 01:00:00', '2024-06-06 01:00:00']);

    // Six days, without --full-refresh: the model has rows before the full refresh.
    const plain = await backfillDefinition(dir, d, '2024-06-01', '2024-06-07');
    expect(branchStates(plain)).toEqual(['daily_unit_tests', 'daily_batches', 'daily', 'daily_tests']);
    const first = await execute(plain, d);
    expect(first.map((i) => i.state)).toEqual(['daily_unit_tests', ...Array<string>(6).fill('daily_batch'), 'daily_tests']);
    const [unit1, tests1] = [first[0], first[7]];
    const batches1 = first.slice(1, 7);
    expect(results(unit1)).toEqual(['unit_test.backfill.daily.daily_counts pass']);
    // Each batch built the model and ran no test; the tests ran once, after the last batch.
    for (const b of batches1) expect(results(b)).toEqual([`${DAILY} success`]);
    expect(results(tests1).sort()).toEqual(DATA_TESTS.map((t) => `${t} pass`));
    expect(Math.min(...batches1.map((b) => b.startMs))).toBeGreaterThanOrEqual(unit1.endMs);
    expect(tests1.startMs).toBeGreaterThanOrEqual(Math.max(...batches1.map((b) => b.endMs)));
    expect(overlapped(batches1)).toBe(true);
    const location = { bucket: d.bucket, location: 'mb/daily' };
    expect(await rowsOfS3('daily', location)).toEqual([
      { day: '2024-06-01', events: '1' },
      { day: '2024-06-02', events: '2' },
      { day: '2024-06-03', events: '1' },
      { day: '2024-06-04', events: '1' },
      { day: '2024-06-05', events: '1' },
      { day: '2024-06-06', events: '1' },
    ]);

    // A late event makes June 2 a day of 3 events, which no_big_day refuses.
    await putEvents(d, 'late.parquet', ['2024-06-02 03:00:00']);
    const refresh = await backfillDefinition(dir, d, '2024-06-01', '2024-06-05', ['--full-refresh']);
    expect(branchStates(refresh)).toEqual(['daily_unit_tests', 'daily_first_batch', 'daily_batches', 'daily', 'daily_tests']);
    const { log, error } = await run(refresh, d);
    expect(log.map((i) => [i.state, i.error?.errorType])).toEqual([
      ['daily_unit_tests', undefined],
      ['daily_first_batch', undefined],
      ['daily_batch', undefined],
      ['daily_batch', undefined],
      ['daily_batch', undefined],
      ['daily_tests', 'TestFailed'],
    ]);
    const [, firstBatch, ...rest] = log;
    const batches2 = rest.slice(0, 3);
    const tests2 = rest[3];
    // The one invocation of the model that full-refreshes is the first batch, alone, before the others.
    const building = log.filter((i) => i.result?.results.some((r) => r.unique_id === DAILY));
    expect(building.map((i) => [i.state, i.event.full_refresh ?? false])).toEqual([
      ['daily_first_batch', true],
      ['daily_batch', false],
      ['daily_batch', false],
      ['daily_batch', false],
    ]);
    expect([firstBatch.event.event_time_start, firstBatch.event.event_time_end]).toEqual(['2024-06-01T00:00:00.000Z', '2024-06-02T00:00:00.000Z']);
    expect(batches2.map((b) => b.event.event_time_start).sort()).toEqual(['2024-06-02T00:00:00.000Z', '2024-06-03T00:00:00.000Z', '2024-06-04T00:00:00.000Z']);
    for (const b of [firstBatch, ...batches2]) expect(results(b)).toEqual([`${DAILY} success`]);
    expect(Math.min(...batches2.map((b) => b.startMs))).toBeGreaterThanOrEqual(firstBatch.endMs);
    expect(overlapped(batches2)).toBe(true);
    // The failing test failed the execution after the Map, in the tests' Task; unique passed there.
    expect(tests2.startMs).toBeGreaterThanOrEqual(Math.max(...batches2.map((b) => b.endMs)));
    const summary = JSON.parse(tests2.error!.errorMessage) as { results: Array<{ unique_id: string; status: string }> };
    expect(summary.results.map((r) => `${r.unique_id} ${r.status}`).sort()).toEqual(['test.backfill.no_big_day fail', 'test.backfill.unique_daily_day pass']);
    expect(error?.name).toBe('ExecutionError');
    expect((error as { cause?: { name?: string } } | undefined)?.cause?.name).toBe('TestFailed');

    // Exactly the window's four days, June 2 with its late event, one row each; June 5 and 6,
    // built before and outside the window, went with the full refresh.
    expect(await rowsOfS3('daily', location)).toEqual([
      { day: '2024-06-01', events: '1' },
      { day: '2024-06-02', events: '3' },
      { day: '2024-06-03', events: '1' },
      { day: '2024-06-04', events: '1' },
    ]);
    expect(await stateOf(d)).toEqual({ batches: [['2024-06-01T00:00:00.000Z', '2024-06-05T00:00:00.000Z']], rows_total: 4 });
  }, 240_000);
});
