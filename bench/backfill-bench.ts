/**
 * A fan-out backfill: a year of generated trades built by a `microbatch` variant of the Gold fact,
 * batched by filing month, backfilled by the Map of the state machine `smelter stepfunctions
 * --event-time-start 2024-01-01 --event-time-end 2025-01-01 --max-concurrency C` prints, for C in
 * 1, 2 and 4, run in aws-local-stepfunctions. Every Task invocation runs the packaged handler
 * (the zip, unpacked) in a fresh `node` with a clean environment and an empty object cache — a cold
 * Lambda — against s3rver and dynalite (bench/local-aws.ts), so C batches really build at once.
 * Each C starts on an empty bucket and state table.
 *
 *   node dist/bench/backfill-bench.js [--transactions N] [--concurrency 1,2,4] [--zip FILE] [--scratch DIR] [--keep]
 *
 * The bench project (bench/out/backfill): the repository's project with fact_ptr_transactions
 * replaced by bench/backfill-project/models/gold/fact_ptr_transactions.sql (microbatch on
 * filing_date, batch_size month, begin 2024-01-01, external Parquet; transaction_key from
 * (doc_id, line_number), not max() over this; its unit test's expected keys renumbered so) and
 * silver.transactions declaring `event_time: filing_date`, so each batch reads only its month. Without --zip the package is built
 * from the working tree with that project (scripts/package-lambda.ts).
 *
 * Reports per C: the execution's wall time, the Map's (first batch invocation started to last
 * ended), speedup against C = 1, the batches rebased onto other batches' commits and built again
 * after a conflict (from the handler's result messages), and Task invocations that failed (each a
 * Retry). Verifies per C: the fact's committed files (read through the manifest its state record
 * points at) hold every Silver trade once, with unique keys, and exactly the rows of C = 1
 * (gold_ingest_ts aside); its state lists the whole year as done and its rows_total is its row
 * count. Exits 1 on any mismatch. Writes bench/out/backfill.json and prints a Markdown table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import './promise-with-resolvers.js';
import { packageLambda } from '../scripts/package-lambda.js';
import { extractZip } from '../scripts/zip-folder.js';
import { createDeployment, generate, parquetFiles, startDynalite, startS3rver, upload } from './local-aws.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'smelter.js');
const PROJECT = join(ROOT, 'bench', 'out', 'backfill');
const FACT = 'gold.fact_ptr_transactions';
const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:smelter';
const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const YEAR = { start: '2024-01-01', end: '2025-01-01' };
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

interface Args {
  trades: number;
  concurrency: number[];
  zip?: string;
  scratch?: string;
  keep: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { trades: 1_500_000, concurrency: [1, 2, 4], keep: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--transactions') args.trades = Number(value());
    else if (flag === '--concurrency') args.concurrency = value().split(',').map(Number);
    else if (flag === '--zip') args.zip = value();
    else if (flag === '--scratch') args.scratch = value();
    else if (flag === '--keep') args.keep = true;
    else throw new Error(`unknown option ${flag}`);
  }
  if (!Number.isInteger(args.trades) || args.trades < 1000) throw new Error('--transactions must be an integer >= 1000');
  if (!args.concurrency.every((c) => Number.isInteger(c) && c >= 1)) throw new Error('--concurrency takes whole numbers >= 1, e.g. 1,2,4');
  // C = 1 first: the sequential build the others are compared with.
  args.concurrency = [...new Set([1, ...args.concurrency])].sort((a, b) => a - b);
  return args;
}

/** The bench project: the repository's, with the microbatch fact and event_time on Silver trades. */
function writeProject(): void {
  rmSync(PROJECT, { recursive: true, force: true });
  for (const part of ['project.yml', 'models', 'macros']) cpSync(join(ROOT, part), join(PROJECT, part), { recursive: true });
  cpSync(join(ROOT, 'bench', 'backfill-project'), PROJECT, { recursive: true });
  const sources = join(PROJECT, 'models', 'silver', 'sources.yml');
  const text = readFileSync(sources, 'utf8');
  const patched = text.replace(/\n(      - name: transactions\n)/, '\n$1        config: { event_time: filing_date }\n');
  if (patched === text) throw new Error(`${sources}: no silver.transactions table to give event_time`);
  writeFileSync(sources, patched);
  // The fact's unit test expects keys numbered from 1; this variant's are doc_id * 1000 + line_number.
  const unitTests = join(PROJECT, 'models', 'gold', 'unit_tests.yml');
  let tests = readFileSync(unitTests, 'utf8');
  for (const [from, to] of [['1', '20000001001'], ['2', '20000001002'], ['3', '20000002001']]) {
    const next = tests.replace(`{ transaction_key: ${from}, `, `{ transaction_key: ${to}, `);
    if (next === tests) throw new Error(`${unitTests}: no expected transaction_key ${from} to renumber`);
    tests = next;
  }
  writeFileSync(unitTests, tests);
}

type Definition = Record<string, unknown>;

/** Every Task state with its Resource, inside Parallel branches and Map processors too. */
function tasksOf(definition: Definition): Array<{ name: string; resource: string }> {
  const out: Array<{ name: string; resource: string }> = [];
  const visit = (states: Record<string, Definition>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') out.push({ name, resource: String(state.Resource) });
      for (const branch of (state.Branches as Definition[] | undefined) ?? []) visit(branch.States as Record<string, Definition>);
      const processor = (state.ItemProcessor ?? state.Iterator) as Definition | undefined;
      if (processor) visit(processor.States as Record<string, Definition>);
    }
  };
  visit(definition.States as Record<string, Definition>);
  return out;
}

/** Map states' MaxConcurrency, to check the definition says what was asked. */
function mapConcurrency(definition: Definition): number[] {
  return JSON.stringify(definition)
    .match(/"MaxConcurrency":\d+/g)!
    .map((m) => Number(m.split(':')[1]));
}

/** The child: Lambda's call of `index.handler` on one event; its answer, or its error's name, on the last line. */
const INVOKE = [
  "const { handler } = require(process.argv[1]);",
  'handler(JSON.parse(process.argv[2]), { getRemainingTimeInMillis: () => 900000 }).then(',
  "  (result) => { process.stdout.write('\\n' + JSON.stringify(result) + '\\n'); },",
  "  (err) => { process.stdout.write('\\n' + JSON.stringify({ errorType: err.name, errorMessage: String(err.message).slice(0, 4000) }) + '\\n'); process.exitCode = 1; },",
  ');',
].join('\n');

interface Invocation {
  state: string;
  event: Record<string, unknown>;
  startMs: number;
  endMs: number;
  ok: boolean;
  errorType?: string;
  errorMessage?: string;
  /** The fact's result message: batches rebased or built again. */
  message?: string;
}

interface Deployment {
  fn: string;
  scratch: string;
  s3Endpoint: string;
  dynamoEndpoint: string;
  bucket: string;
  table: string;
}

/** A cold Lambda: a fresh `node` in the unpacked function, a clean environment, an empty cache. */
function invokeCold(d: Deployment, state: string, event: Record<string, unknown>, log: Invocation[]): Promise<unknown> {
  const cache = mkdtempSync(join(d.scratch, 'cache-'));
  const env = {
    PATH: `${dirname(process.execPath)}:/usr/bin:/bin`,
    HOME: cache,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: d.s3Endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: d.dynamoEndpoint,
    S3_BUCKET_NAME: d.bucket,
    WATERMARK_TABLE: d.table,
    SMELTER_CACHE_DIR: join(cache, 'objects'),
    LAMBDA_TASK_ROOT: d.fn,
  };
  const invocation: Invocation = { state, event, startMs: performance.now(), endMs: NaN, ok: false };
  log.push(invocation);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', INVOKE, join(d.fn, 'index.js'), JSON.stringify(event)], { cwd: d.fn, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
    child.once('close', (code, signal) => {
      invocation.endMs = performance.now();
      rmSync(cache, { recursive: true, force: true });
      let answer: Record<string, unknown> | undefined;
      try {
        answer = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
      } catch {
        answer = undefined;
      }
      if (code === 0 && answer?.status === 'success') {
        invocation.ok = true;
        const fact = (answer.results as Array<{ unique_id: string; message?: string }>).find((r) => r.unique_id.endsWith('.fact_ptr_transactions'));
        if (fact?.message) invocation.message = fact.message;
        resolve(answer);
        return;
      }
      // A handler error keeps its name, so Retry and Catch match it as on AWS; a process that died is Runtime.ExitError.
      invocation.errorType = typeof answer?.errorType === 'string' ? answer.errorType : 'Runtime.ExitError';
      invocation.errorMessage = typeof answer?.errorMessage === 'string' ? answer.errorMessage : `exit ${code ?? signal}: ${stdout.slice(-1000)}\n${stderr}`;
      reject(Object.assign(new Error(invocation.errorMessage), { name: invocation.errorType }));
    });
  });
}

interface RunOutcome {
  concurrency: number;
  ok: boolean;
  error?: string;
  executionSeconds: number;
  mapSeconds: number;
  batchInvocations: number;
  batchSeconds: { min: number; median: number; max: number };
  rebased: number;
  rebuilt: number;
  failedInvocations: Array<{ state: string; error: string }>;
  fact: { rows: number; distinctKeys: number; rowsTotal: number; batches: string; files: number; bytes: number };
  /** Rows of this run missing from C = 1's and the reverse (gold_ingest_ts aside). */
  differsFromSequential?: { missing: number; extra: number };
  problems: string[];
}

async function runOnce(
  deployment: Deployment,
  concurrency: number,
  StateMachine: typeof import('aws-local-stepfunctions').StateMachine,
): Promise<{ log: Invocation[]; executionSeconds: number; error?: Error }> {
  const printed = spawnSync(
    process.execPath,
    [BIN, 'stepfunctions', '--project-dir', PROJECT, '--target', 'aws', '--function-arn', FUNCTION_ARN, '--event-time-start', YEAR.start, '--event-time-end', YEAR.end, '--max-concurrency', String(concurrency)],
    { encoding: 'utf8' },
  );
  if (printed.status !== 0) throw new Error(`smelter stepfunctions failed:\n${printed.stderr}`);
  const definition = JSON.parse(printed.stdout) as Definition;
  const maps = mapConcurrency(definition);
  if (maps.length !== 1 || maps[0] !== concurrency) throw new Error(`the definition's Map MaxConcurrency is ${maps.join(', ')}, not ${concurrency}`);
  const log: Invocation[] = [];
  const handlers = Object.fromEntries(
    tasksOf(definition).map(({ name, resource }) => [
      name,
      resource === LAMBDA_INVOKE
        ? async (input: { Payload: Record<string, unknown> }) => ({ Payload: await invokeCold(deployment, name, input.Payload, log) })
        : (input: Record<string, unknown>) => invokeCold(deployment, name, input, log),
    ]),
  );
  // Retry waits as the definition says them: a retried invocation costs the backfill its wait.
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: true } });
  const started = performance.now();
  try {
    await machine.run({}, { overrides: { taskResourceLocalHandlers: handlers as never } }).result;
    return { log, executionSeconds: (performance.now() - started) / 1000 };
  } catch (error) {
    return { log, executionSeconds: (performance.now() - started) / 1000, error: error as Error };
  }
}

/** The fact as its state record commits it: the manifest's files downloaded into `into`. */
async function committedFact(d: Deployment, s3: S3Client, dynamo: DynamoDBClient, into: string) {
  const item = (await dynamo.send(new GetItemCommand({ TableName: d.table, Key: { table_name: { S: FACT } }, ConsistentRead: true }))).Item;
  const pointer = item?.manifest_pointer?.S;
  if (!pointer) throw new Error(`${FACT} has no committed manifest`);
  const get = async (key: string) => (await s3.send(new GetObjectCommand({ Bucket: d.bucket, Key: key }))).Body!.transformToByteArray();
  const manifest = JSON.parse(Buffer.from(await get(pointer)).toString('utf8')) as { location: string; files: Array<{ name: string; bytes: number }> };
  const paths: string[] = [];
  for (const f of manifest.files) {
    const path = join(into, f.name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, await get(`${manifest.location}/${f.name}`));
    paths.push(path);
  }
  return {
    paths,
    bytes: manifest.files.reduce((s, f) => s + f.bytes, 0),
    rowsTotal: Number(item?.rows_total?.N),
    batches: item?.batches?.S ?? 'null',
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const list = (paths: readonly string[]) => `[${paths.map((p) => `'${p}'`).join(', ')}]`;

function git(args: readonly string[]): string {
  const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : `(git ${args.join(' ')} failed)`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { StateMachine } = await import('aws-local-stepfunctions');
  const scratch = args.scratch ?? mkdtempSync(join(tmpdir(), 'smelter-backfill-bench-'));
  mkdirSync(scratch, { recursive: true });
  if (!relative(ROOT, scratch).startsWith('..')) throw new Error(`--scratch must be outside the repository (${scratch})`);
  const started = performance.now();
  const header = {
    date: new Date().toISOString(),
    commit: git(['log', '-1', '--oneline']),
    modified: git(['status', '--porcelain', '--', 'runtime', 'adapters', 'scripts', 'models', 'macros', 'project.yml', 'bench/backfill-project']).split('\n').filter((l) => l !== ''),
    cpu: `${cpus()[0]?.model ?? 'cpu'} x ${cpus().length}`,
    node: process.version,
    loadAtStart: readFileSync('/proc/loadavg', 'utf8').trim(),
    trades: args.trades,
    zip: args.zip ?? '(built from the working tree with bench/out/backfill)',
  };

  writeProject();
  let zip = args.zip;
  if (!zip) {
    zip = join(scratch, 'lambda.zip');
    await packageLambda({ projectDir: PROJECT, out: zip });
  }
  const fn = join(scratch, 'fn');
  rmSync(fn, { recursive: true, force: true });
  extractZip(zip, fn);

  const silver = join(scratch, 'silver');
  const generated = generate(silver, ['--transactions', String(args.trades)]);
  const silverFiles = parquetFiles(silver);
  console.error(`generated ${args.trades.toLocaleString('en-US')} trades in ${generated.toFixed(1)} s (${silverFiles.length} files)`);

  const s3rver = await startS3rver(join(scratch, 's3rver'));
  const dynalite = await startDynalite();
  const s3 = new S3Client({
    endpoint: s3rver.endpoint,
    region: 'us-east-1',
    credentials: CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const dynamo = new DynamoDBClient({ endpoint: dynalite.endpoint, region: 'us-east-1', credentials: CREDENTIALS });
  const duck = await DuckDBInstance.create(':memory:');
  const db = await duck.connect();
  const query = async (sql: string) => (await db.run(sql)).getRowObjectsJson();
  const trades = silverFiles.filter((f) => f.startsWith('transactions/')).map((f) => join(silver, f));
  const silverRows = Number((await query(`select count(*) as n from read_parquet(${list(trades)})`))[0].n);

  const outcomes: RunOutcome[] = [];
  try {
    for (const concurrency of args.concurrency) {
      const deployment: Deployment = { fn, scratch, s3Endpoint: s3rver.endpoint, dynamoEndpoint: dynalite.endpoint, bucket: `backfill-c${concurrency}`, table: `smelter_state_c${concurrency}` };
      await createDeployment(s3, dynamo, deployment.bucket, deployment.table);
      await upload(s3, deployment.bucket, silver, silverFiles, new Set());
      console.error(`concurrency ${concurrency}: running the state machine`);
      const { log, executionSeconds, error } = await runOnce(deployment, concurrency, StateMachine);
      const batches = log.filter((i) => i.event.event_time_start !== undefined);
      const mapSeconds = batches.length === 0 ? NaN : (Math.max(...batches.map((i) => i.endMs)) - Math.min(...batches.map((i) => i.startMs))) / 1000;
      const seconds = batches.filter((i) => i.ok).map((i) => (i.endMs - i.startMs) / 1000);
      const count = (pattern: RegExp) => batches.reduce((n, i) => n + Number(pattern.exec(i.message ?? '')?.[1] ?? 0), 0);
      const outcome: RunOutcome = {
        concurrency,
        ok: error === undefined,
        ...(error ? { error: `${error.name}: ${error.message.slice(0, 2000)}` } : {}),
        executionSeconds,
        mapSeconds,
        batchInvocations: batches.length,
        batchSeconds: { min: Math.min(...seconds), median: median(seconds), max: Math.max(...seconds) },
        rebased: count(/(\d+) rebased/),
        rebuilt: count(/(\d+) built again/),
        failedInvocations: log.filter((i) => !i.ok).map((i) => ({ state: i.state, error: `${i.errorType}: ${(i.errorMessage ?? '').slice(0, 500)}` })),
        fact: { rows: 0, distinctKeys: 0, rowsTotal: 0, batches: '', files: 0, bytes: 0 },
        problems: [],
      };
      outcomes.push(outcome);
      if (error) {
        outcome.problems.push(`the execution failed: ${outcome.error}`);
        console.error(outcome.problems.at(-1), outcome.failedInvocations);
        continue;
      }
      // The fact as committed, kept as a table (gold_ingest_ts aside: it is the build's time).
      const into = mkdtempSync(join(scratch, `verify-c${concurrency}-`));
      const fact = await committedFact(deployment, s3, dynamo, into);
      await db.run(`create table fact_c${concurrency} as select * exclude (gold_ingest_ts) from read_parquet(${list(fact.paths)})`);
      const [{ rows, keys }] = await query(`select count(*) as rows, count(distinct transaction_key) as keys from fact_c${concurrency}`);
      outcome.fact = { rows: Number(rows), distinctKeys: Number(keys), rowsTotal: fact.rowsTotal, batches: fact.batches, files: fact.paths.length, bytes: fact.bytes };
      const year = JSON.stringify([[`${YEAR.start}T00:00:00.000Z`, `${YEAR.end}T00:00:00.000Z`]]);
      if (outcome.fact.rows !== silverRows) outcome.problems.push(`${outcome.fact.rows} rows, Silver has ${silverRows}`);
      if (outcome.fact.distinctKeys !== outcome.fact.rows) outcome.problems.push(`${outcome.fact.distinctKeys} distinct keys in ${outcome.fact.rows} rows`);
      if (outcome.fact.rowsTotal !== outcome.fact.rows) outcome.problems.push(`rows_total ${outcome.fact.rowsTotal}, the files hold ${outcome.fact.rows}`);
      if (outcome.fact.batches !== year) outcome.problems.push(`state batches ${outcome.fact.batches}, expected ${year}`);
      if (concurrency !== 1 && outcomes[0].concurrency === 1 && outcomes[0].ok) {
        const [{ n: missing }] = await query(`select count(*) as n from (select * from fact_c1 except all select * from fact_c${concurrency})`);
        const [{ n: extra }] = await query(`select count(*) as n from (select * from fact_c${concurrency} except all select * from fact_c1)`);
        outcome.differsFromSequential = { missing: Number(missing), extra: Number(extra) };
        if (Number(missing) + Number(extra) > 0) outcome.problems.push(`${missing} rows of the sequential build missing, ${extra} rows it does not have`);
      }
      rmSync(into, { recursive: true, force: true });
      console.error(
        `concurrency ${concurrency}: execution ${executionSeconds.toFixed(1)} s, Map ${mapSeconds.toFixed(1)} s, ${outcome.rebased} rebased, ${outcome.rebuilt} rebuilt, ` +
          `${outcome.failedInvocations.length} failed invocations; ${outcome.problems.length === 0 ? 'verified' : outcome.problems.join('; ')}`,
      );
      for (const f of outcome.failedInvocations) console.error(`  failed (retried): ${f.state}: ${f.error}`);
    }

    const base = outcomes.find((o) => o.concurrency === 1);
    const speedup = (o: RunOutcome, k: 'executionSeconds' | 'mapSeconds') => (base && o.ok ? `${(base[k] / o[k]).toFixed(2)}×` : '—');
    const lines = [
      `Fan-out backfill — ${header.cpu}, node ${header.node}, load average at start ${header.loadAtStart}; commit ${header.commit}` +
        (header.modified.length ? ` + ${header.modified.length} modified files` : '') +
        `; ${args.trades.toLocaleString('en-US')} trades filed over 2024 (${silverFiles.length} Silver files), 12 month batches, every invocation a cold process.`,
      '',
      '| MaxConcurrency | execution wall | speedup | Map wall (12 batches) | speedup | batch invocation min / median / max | rebased | built again | failed invocations | rows | distinct keys | = sequential |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...outcomes.map(
        (o) =>
          `| ${o.concurrency} | ${o.executionSeconds.toFixed(1)} s | ${speedup(o, 'executionSeconds')} | ${o.mapSeconds.toFixed(1)} s | ${speedup(o, 'mapSeconds')} | ` +
          `${o.batchSeconds.min.toFixed(1)} / ${o.batchSeconds.median.toFixed(1)} / ${o.batchSeconds.max.toFixed(1)} s | ${o.rebased} | ${o.rebuilt} | ${o.failedInvocations.length} | ` +
          `${o.fact.rows.toLocaleString('en-US')} | ${o.fact.distinctKeys.toLocaleString('en-US')} | ${o.problems.length > 0 ? `NO: ${o.problems.join('; ')}` : o.concurrency === 1 ? '(the reference)' : 'yes'} |`,
      ),
      '',
      `Total bench time ${((performance.now() - started) / 1000).toFixed(0)} s; load average at the end ${readFileSync('/proc/loadavg', 'utf8').trim()}.`,
    ];
    const table = lines.join('\n');
    mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'out', 'backfill.json'), `${JSON.stringify({ ...header, silverRows, generatedSeconds: generated, outcomes, loadAtEnd: readFileSync('/proc/loadavg', 'utf8').trim(), table }, null, 2)}\n`);
    console.log(table);
    if (outcomes.some((o) => !o.ok || o.problems.length > 0)) process.exitCode = 1;
  } finally {
    db.closeSync();
    duck.closeSync();
    dynalite.close();
    s3.destroy();
    dynamo.destroy();
    s3rver.child.kill('SIGTERM');
    if (!args.keep) rmSync(scratch, { recursive: true, force: true });
    else console.error(`scratch kept in ${scratch}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100).unref();
});
