/**
 * The packaged Lambda handler building the Gold project on real local servers: Silver Parquet in S3
 * (s3rver, behind a proxy counting requests and bytes), Gold Parquet written to S3, state in
 * DynamoDB (dynalite). Every measured invocation runs the unzipped package in a fresh `node` with a
 * clean environment (as Lambda starts a function) and a fresh SMELTER_CACHE_DIR (a cold /tmp),
 * with the daily event `{ command: 'build', exclude: ['source:silver'] }`:
 *
 *   (a) full build (first deploy) of N generated trades (default 10,000,000);
 *   (b) a day of 1% new trades (`--append-day --transactions N/100 --late-changes 0`);
 *   (c) a day of 1% with two late member changes (`--late-changes 2`);
 *   (d) no new data: a cold invocation, then a warm one in the same process;
 *
 * each with the time from spawn to a callable handler (require of index.js), the handler's wall
 * time, the child's peak RSS (`process.resourceUsage().maxRSS`), the peak bytes of its cache folder
 * and DuckDB spill folder, and the S3 requests and bytes by prefix. Then a memory sweep: the full
 * build again (fresh bucket and state table each) under other DuckDB settings, rewritten into the
 * unzipped folder's project.yml.
 *
 *   node dist/bench/aws-bench.js [--transactions N] [--memory-limit 500MB] [--threads N]
 *     [--model-threads N] [--cache-max-bytes 1GB] [--setting key=value ...]
 *     [--sweep "memory_limit=400MB,threads=1;memory_limit=500MB,threads=2" | --sweep none]
 *     [--zip dist/lambda.zip] [--scratch DIR] [--keep]
 *
 * `--threads` is DuckDB's `threads` setting, `--model-threads` the target's `threads` (models run
 * at once). Without `--zip` the package is built from the working tree first (scripts/package-lambda.ts),
 * so the figures belong to the sources as they are (the commit and modified files are recorded).
 * Scratch data (Silver, s3rver's objects, the unzipped function, caches) lives outside the
 * repository and is removed unless `--keep`. Writes bench/out/aws.json and prints a Markdown table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { parseDocument } from 'yaml';
import { packageLambda } from '../scripts/package-lambda.js';
import { extractZip } from '../scripts/zip-folder.js';
import { createDeployment, generate, parquetFiles, startDynalite, startProxy, startS3rver, upload, type Rec } from './local-aws.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EVENT = { command: 'build', exclude: ['source:silver'] } as const;
const MiB = 1024 * 1024;

// ---------------------------------------------------------------- arguments

interface Args {
  trades: number;
  settings: Record<string, string>;
  modelThreads?: number;
  cacheMaxBytes?: string;
  sweep: Array<Record<string, string>>;
  zip?: string;
  scratch?: string;
  keep: boolean;
}

const DEFAULT_SWEEP = [
  'memory_limit=400MB,threads=1',
  'memory_limit=400MB,threads=2',
  'memory_limit=500MB,threads=1',
  'memory_limit=500MB,threads=2',
  'memory_limit=600MB,threads=1',
  'memory_limit=500MB,threads=2,preserve_insertion_order=false',
];

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { trades: 10_000_000, settings: {}, sweep: [], keep: false };
  let sweep: string[] | undefined;
  const keyValues = (text: string) =>
    Object.fromEntries(
      text
        .split(',')
        .filter((p) => p.trim() !== '')
        .map((p) => {
          const eq = p.indexOf('=');
          if (eq <= 0) throw new Error(`expected key=value, got ${JSON.stringify(p)}`);
          return [p.slice(0, eq).trim(), p.slice(eq + 1).trim()];
        }),
    );
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--transactions':
        args.trades = Number(value());
        if (!Number.isInteger(args.trades) || args.trades < 100) throw new Error('--transactions must be an integer >= 100');
        break;
      case '--memory-limit':
        args.settings.memory_limit = value();
        break;
      case '--threads':
        args.settings.threads = value();
        break;
      case '--setting':
        Object.assign(args.settings, keyValues(value()));
        break;
      case '--model-threads':
        args.modelThreads = Number(value());
        break;
      case '--cache-max-bytes':
        args.cacheMaxBytes = value();
        break;
      case '--sweep': {
        const v = value();
        sweep = [...(sweep ?? []), ...(v === 'none' ? [] : v.split(';'))];
        break;
      }
      case '--zip':
        args.zip = value();
        break;
      case '--scratch':
        args.scratch = value();
        break;
      case '--keep':
        args.keep = true;
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  args.sweep = (sweep ?? DEFAULT_SWEEP).filter((s) => s.trim() !== '').map(keyValues);
  return args;
}

// ---------------------------------------------------------------- S3 traffic

interface Traffic {
  /** Object bytes and requests under silver/ (GET), gold/ + .smelter/ (GET and PUT). */
  silverGetBytes: number;
  silverGets: number;
  goldGetBytes: number;
  goldGets: number;
  goldPutBytes: number;
  goldPuts: number;
  /** Every request by operation. */
  requests: Record<string, number>;
  /** Requests and bytes by operation under the key's first two segments (gold/fact_ptr_transactions, silver/members, ...). */
  byPrefix: Record<string, Record<string, { n: number; bytes: number }>>;
}

function traffic(records: readonly Rec[], bucket: string): Traffic {
  const t: Traffic = { silverGetBytes: 0, silverGets: 0, goldGetBytes: 0, goldGets: 0, goldPutBytes: 0, goldPuts: 0, requests: {}, byPrefix: {} };
  for (const r of records) {
    t.requests[r.op] = (t.requests[r.op] ?? 0) + 1;
    if (!r.path.startsWith(`${bucket}/`)) continue;
    const key = r.path.slice(bucket.length + 1);
    const prefix = key.split('/').slice(0, 2).join('/');
    const cell = ((t.byPrefix[prefix] ??= {})[r.op] ??= { n: 0, bytes: 0 });
    cell.n += 1;
    cell.bytes += r.bytes;
    const gold = key.startsWith('gold/') || key.startsWith('.smelter/');
    if (key.startsWith('silver/') && r.op === 'GET') {
      t.silverGetBytes += r.bytes;
      t.silverGets += 1;
    } else if (gold && r.op === 'GET') {
      t.goldGetBytes += r.bytes;
      t.goldGets += 1;
    } else if (gold && r.op === 'PUT') {
      t.goldPutBytes += r.bytes;
      t.goldPuts += 1;
    }
  }
  return t;
}

// ---------------------------------------------------------------- the function, as Lambda runs it

/** Runs in the child (CommonJS, beside nothing of this repository): require the handler, call it per event, report. */
const RUNNER = `'use strict';
const { performance } = require('node:perf_hooks');
const readline = require('node:readline');
const emit = (m) => process.stdout.write('@@aws-bench ' + JSON.stringify(m) + '\\n');
const now = () => performance.timeOrigin + performance.now();
const { handler } = require(process.argv[2] + '/index.js');
emit({ type: 'ready', timeOrigin: performance.timeOrigin, ready: now(), rssKB: Math.round(process.memoryUsage().rss / 1024), maxRssKB: process.resourceUsage().maxRSS });
const events = JSON.parse(process.argv[3]);
// Node's own share of the memory, sampled (DuckDB works on its own threads, so the loop keeps ticking).
let peak;
const resetPeak = () => (peak = { heapUsed: 0, external: 0, arrayBuffers: 0 });
const sample = () => {
  const m = process.memoryUsage();
  for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], m[k]);
};
resetPeak();
setInterval(sample, 100).unref();
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
(async () => {
  for (let i = 0; i < events.length; i++) {
    if (i > 0) await lines.next();
    const deadline = Date.now() + 15 * 60 * 1000;
    const start = performance.now();
    const cpu = process.resourceUsage();
    resetPeak();
    let outcome;
    try {
      outcome = { ok: true, result: await handler(events[i], { getRemainingTimeInMillis: () => deadline - Date.now() }) };
    } catch (e) {
      outcome = { ok: false, error: { name: e && e.name, message: String(e && e.message).slice(0, 6000) } };
    }
    sample();
    const after = process.resourceUsage();
    const cpuSeconds = (after.userCPUTime - cpu.userCPUTime + after.systemCPUTime - cpu.systemCPUTime) / 1e6;
    emit({ type: 'invoked', index: i, seconds: (performance.now() - start) / 1000, cpuSeconds, maxRssKB: process.resourceUsage().maxRSS, rssKB: Math.round(process.memoryUsage().rss / 1024), node: { heapUsedKB: Math.round(peak.heapUsed / 1024), externalKB: Math.round(peak.external / 1024), arrayBuffersKB: Math.round(peak.arrayBuffers / 1024) }, ...outcome });
  }
  emit({ type: 'exit', maxRssKB: process.resourceUsage().maxRSS });
  process.exit(0);
})();
`;

interface Invocation {
  index: number;
  ok: boolean;
  error?: { name: string; message: string };
  /** The handler call: wall time, and the child's CPU time (user + system, every thread) during it. */
  seconds: number;
  cpuSeconds: number;
  /** The child's peak RSS so far (KB, as getrusage reports it), and its RSS when the call returned. */
  maxRssKB: number;
  rssKB: number;
  /** Peaks of Node's own memory during the call (sampled every 100 ms): the JS heap, and memory outside it (Buffers: upload bodies). The rest of the RSS is DuckDB's and the code's. */
  node: { heapUsedKB: number; externalKB: number; arrayBuffersKB: number };
  /** Each model's status, rows and seconds, as the handler returns them. */
  models: Record<string, { status: string; rows: number | null; seconds: number }>;
  /** The data and unit tests the invocation ran: how many, not passing, and their seconds summed. */
  tests: { n: number; notPassing: number; seconds: number };
  traffic: Traffic;
}

interface ChildRun {
  label: string;
  settings: Record<string, string>;
  /** Spawn to the child's own start (node's start-up before any JS), and to a callable handler (require of index.js). */
  nodeStartSeconds: number;
  initSeconds: number;
  rssAfterInitKB: number;
  invocations: Invocation[];
  /** Spawn to exit. */
  processSeconds: number;
  maxRssKB: number;
  /** Peak bytes on disk of the cache folder and DuckDB's spill folder (sampled every 200 ms), and the cache at exit. */
  peakCacheBytes: number;
  peakSpillBytes: number;
  peakTmpBytes: number;
  cacheBytesAtExit: number;
  stderrTail: string;
  /** Set when the process itself failed (crashed, killed) in the sweep. */
  error?: string;
}

interface Env {
  scratch: string;
  fn: string;
  runner: string;
  proxy: Awaited<ReturnType<typeof startProxy>>;
  dynamo: string;
  originalProjectYml: string;
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    try {
      if (e.isDirectory()) total += await folderBytes(p);
      // Allocated blocks, not the apparent size: DuckDB's spill files can be sparse.
      else if (e.isFile()) total += (await stat(p)).blocks * 512;
    } catch {
      // removed while walking
    }
  }
  return total;
}

/** project.yml of the unzipped function with the aws target's settings replaced. */
function writeProjectYml(env: Env, settings: Record<string, string>, modelThreads: number | undefined, cacheMaxBytes: string | undefined): Record<string, string> {
  const doc = parseDocument(env.originalProjectYml);
  for (const [k, v] of Object.entries(settings)) doc.setIn(['targets', 'aws', 'settings', k], /^\d+$/.test(v) ? Number(v) : v);
  if (modelThreads !== undefined) doc.setIn(['targets', 'aws', 'threads'], modelThreads);
  if (cacheMaxBytes !== undefined) doc.setIn(['targets', 'aws', 'cache_max_bytes'], cacheMaxBytes);
  writeFileSync(join(env.fn, 'project.yml'), doc.toString());
  const target = doc.getIn(['targets', 'aws']) as { toJSON(): Record<string, unknown> };
  const json = target.toJSON();
  return {
    ...Object.fromEntries(Object.entries((json.settings ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)])),
    ...((json.settings as Record<string, unknown> | undefined)?.threads === undefined ? { threads: 'default' } : {}),
    model_threads: String(json.threads ?? '(default)'),
    ...(json.cache_max_bytes !== undefined ? { cache_max_bytes: String(json.cache_max_bytes) } : {}),
  };
}

/** One fresh function process: `events` in sequence, each measured; a cold cache and spill folder of its own. */
async function runChild(
  env: Env,
  label: string,
  deployment: { bucket: string; table: string },
  events: readonly object[],
  config: { settings: Record<string, string>; modelThreads?: number; cacheMaxBytes?: string },
): Promise<ChildRun> {
  const slug = label.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  const cacheDir = join(env.scratch, `cache-${slug}`);
  const spillDir = join(env.scratch, `spill-${slug}`);
  rmSync(cacheDir, { recursive: true, force: true });
  rmSync(spillDir, { recursive: true, force: true });
  const settings = writeProjectYml(env, { ...config.settings, temp_directory: spillDir }, config.modelThreads, config.cacheMaxBytes);
  const childEnv = {
    PATH: '/usr/bin:/bin',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_ENDPOINT_URL_S3: env.proxy.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: env.dynamo,
    S3_BUCKET_NAME: deployment.bucket,
    WATERMARK_TABLE: deployment.table,
    SMELTER_CACHE_DIR: cacheDir,
    LAMBDA_TASK_ROOT: env.fn,
  };
  env.proxy.take();
  const spawned = performance.timeOrigin + performance.now();
  const child = spawn(process.execPath, [env.runner, env.fn, JSON.stringify(events)], { cwd: env.fn, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let peakCache = 0;
  let peakSpill = 0;
  let peakTmp = 0;
  let sampling = false;
  const sampler = setInterval(() => {
    if (sampling) return;
    sampling = true;
    void Promise.all([folderBytes(cacheDir), folderBytes(spillDir)]).then(([c, s]) => {
      peakCache = Math.max(peakCache, c);
      peakSpill = Math.max(peakSpill, s);
      peakTmp = Math.max(peakTmp, c + s);
      sampling = false;
    });
  }, 200);
  child.stdin!.on('error', () => undefined);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-8000)));
  const run: ChildRun = {
    label,
    settings,
    nodeStartSeconds: NaN,
    initSeconds: NaN,
    rssAfterInitKB: NaN,
    invocations: [],
    processSeconds: NaN,
    maxRssKB: NaN,
    peakCacheBytes: 0,
    peakSpillBytes: 0,
    peakTmpBytes: 0,
    cacheBytesAtExit: 0,
    stderrTail: '',
  };
  let buffer = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (!line.startsWith('@@aws-bench ')) continue;
      const m = JSON.parse(line.slice(12)) as Record<string, unknown>;
      if (m.type === 'ready') {
        run.nodeStartSeconds = ((m.timeOrigin as number) - spawned) / 1000;
        run.initSeconds = ((m.ready as number) - spawned) / 1000;
        run.rssAfterInitKB = m.rssKB as number;
        env.proxy.take();
      } else if (m.type === 'invoked') {
        const result = m.result as { results?: Array<{ unique_id: string; status: string; rows: number | null; seconds: number }> } | undefined;
        const models: Invocation['models'] = {};
        const tests = { n: 0, notPassing: 0, seconds: 0 };
        for (const r of result?.results ?? []) {
          if (r.unique_id.startsWith('model.')) models[r.unique_id.split('.').pop()!] = { status: r.status, rows: r.rows, seconds: r.seconds };
          else {
            tests.n += 1;
            tests.notPassing += r.status === 'pass' || r.status === 'success' ? 0 : 1;
            tests.seconds += r.seconds;
          }
        }
        run.invocations.push({
          index: m.index as number,
          ok: m.ok as boolean,
          ...(m.error ? { error: m.error as { name: string; message: string } } : {}),
          seconds: m.seconds as number,
          cpuSeconds: m.cpuSeconds as number,
          maxRssKB: m.maxRssKB as number,
          rssKB: m.rssKB as number,
          node: m.node as Invocation['node'],
          models,
          tests,
          traffic: traffic(env.proxy.take(), deployment.bucket),
        });
        child.stdin!.write('next\n');
      } else if (m.type === 'exit') {
        run.maxRssKB = m.maxRssKB as number;
      }
    }
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  run.processSeconds = (performance.timeOrigin + performance.now() - spawned) / 1000;
  clearInterval(sampler);
  run.peakCacheBytes = peakCache;
  run.peakSpillBytes = peakSpill;
  run.peakTmpBytes = peakTmp;
  run.cacheBytesAtExit = await folderBytes(cacheDir);
  run.stderrTail = stderr.split('\n').filter((l) => l.trim() !== '' && !/NodeVersionSupportWarning|node.js version|nodejs\.org|aws-sdk-js.*support|^\s*$/i.test(l)).slice(-20).join('\n');
  if (code !== 0 || run.invocations.length !== events.length) {
    throw new Error(`${label}: the function process exited ${code} after ${run.invocations.length} of ${events.length} invocations\n${stderr.slice(-4000)}`);
  }
  rmSync(cacheDir, { recursive: true, force: true });
  rmSync(spillDir, { recursive: true, force: true });
  const failed = run.invocations.filter((i) => !i.ok);
  for (const f of failed) console.error(`${label}: invocation ${f.index} failed: ${f.error?.name} ${f.error?.message.slice(0, 1500)}`);
  console.error(
    `${label}: ${run.invocations.map((i) => `${i.ok ? 'ok' : 'FAILED'} ${i.seconds.toFixed(2)} s`).join(', ')}; peak RSS ${(run.maxRssKB / 1024).toFixed(0)} MiB; ` +
      `Silver GET ${mib(run.invocations[0].traffic.silverGetBytes)}, Gold PUT ${mib(run.invocations[0].traffic.goldPutBytes)}`,
  );
  return run;
}

// ---------------------------------------------------------------- report

const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;
const mibKB = (kb: number) => `${(kb / 1024).toFixed(0)} MiB`;
const pct = (a: number, b: number) => (b === 0 ? 'n/a' : `${((a / b) * 100).toFixed(1)}%`);
const reqs = (t: Traffic) =>
  ['GET', 'PUT', 'LIST', 'HEAD', 'COPY', 'DELETE', 'POST']
    .filter((op) => t.requests[op])
    .map((op) => `${op} ${t.requests[op]}`)
    .join(', ');

function git(args: readonly string[]): string {
  const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : `(git ${args.join(' ')} failed)`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // This process's own S3 and DynamoDB clients (seeding); the function's children keep the warning, as Lambda would.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const day = Math.round(args.trades / 100);
  const scratch = args.scratch ?? mkdtempSync(join(tmpdir(), 'smelter-aws-bench-'));
  mkdirSync(scratch, { recursive: true });
  if (!relative(ROOT, scratch).startsWith('..')) throw new Error(`--scratch must be outside the repository (${scratch})`);
  const started = performance.now();
  const header = {
    date: new Date().toISOString(),
    commit: git(['log', '-1', '--oneline']),
    modified: git(['status', '--porcelain', '--', 'runtime', 'adapters', 'scripts', 'models', 'macros', 'project.yml']).split('\n').filter((l) => l !== ''),
    /** The uncommitted changes the package was built with, as a digest of their diff. */
    diffSha256: createHash('sha256').update(git(['diff', '--', 'runtime', 'adapters', 'scripts', 'models', 'macros', 'project.yml'])).digest('hex').slice(0, 16),
    cpu: `${cpus()[0]?.model ?? 'cpu'} x ${cpus().length}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} free)`,
    node: process.version,
    loadAtStart: Number(loadavg()[0].toFixed(2)),
    trades: args.trades,
    dayTrades: day,
    event: EVENT,
    zip: '',
    zipBytes: 0,
  };

  // The package: built from the working tree unless a zip is given, then unzipped away from this repository.
  let zip = args.zip;
  if (!zip) {
    zip = join(scratch, 'lambda.zip');
    await packageLambda({ projectDir: ROOT, out: zip });
    rmSync(join(scratch, 'lambda'), { recursive: true, force: true });
  }
  header.zip = args.zip ?? '(built from the working tree)';
  header.zipBytes = statSync(zip).size;
  const fn = join(scratch, 'fn');
  rmSync(fn, { recursive: true, force: true });
  extractZip(zip, fn);
  const runner = join(scratch, 'invoke.cjs');
  writeFileSync(runner, RUNNER);

  const s3rver = await startS3rver(join(scratch, 's3rver'));
  const proxy = await startProxy(s3rver.endpoint);
  const dynalite = await startDynalite();
  const s3 = new S3Client({
    endpoint: s3rver.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const dynamo = new DynamoDBClient({ endpoint: dynalite.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const env: Env = { scratch, fn, runner, proxy, dynamo: dynalite.endpoint, originalProjectYml: readFileSync(join(fn, 'project.yml'), 'utf8') };
  const main = { settings: args.settings, modelThreads: args.modelThreads, cacheMaxBytes: args.cacheMaxBytes };

  try {
    // Silver: the base, uploaded; the deployment's bucket and state table.
    const silver = join(scratch, 'silver');
    const generated = generate(silver, ['--transactions', String(args.trades)]);
    const baseFiles = parquetFiles(silver);
    const silverBytes = baseFiles.reduce((s, f) => s + statSync(join(silver, f)).size, 0);
    console.error(`generated ${args.trades.toLocaleString('en-US')} trades in ${generated.toFixed(1)} s: ${baseFiles.length} files, ${mib(silverBytes)}`);
    const deployment = { bucket: 'congress-data', table: 'smelter_state' };
    await createDeployment(s3, dynamo, deployment.bucket, deployment.table);
    const uploaded = new Set<string>();
    await upload(s3, deployment.bucket, silver, baseFiles, uploaded);

    const full = await runChild(env, '(a) full build', deployment, [EVENT], main);
    generate(silver, ['--append-day', '--transactions', String(day), '--late-changes', '0']);
    const dayUpload = await upload(s3, deployment.bucket, silver, parquetFiles(silver), uploaded);
    const plain = await runChild(env, '(b) 1% day', deployment, [EVENT], main);
    generate(silver, ['--append-day', '--transactions', String(day), '--late-changes', '2']);
    const lateUpload = await upload(s3, deployment.bucket, silver, parquetFiles(silver), uploaded);
    const late = await runChild(env, '(c) 1% day, 2 late changes', deployment, [EVENT], main);
    const idle = await runChild(env, '(d) no new data: cold, then warm', deployment, [EVENT, EVENT], main);

    // The memory sweep: the full build again, on a fresh deployment each.
    const sweep: ChildRun[] = [];
    for (const [i, settings] of args.sweep.entries()) {
      const { model_threads, cache_max_bytes, ...duck } = settings;
      const d = { bucket: `sweep-${i + 1}`, table: `smelter_state_sweep_${i + 1}` };
      await createDeployment(s3, dynamo, d.bucket, d.table);
      await upload(s3, d.bucket, silver, baseFiles, new Set());
      const label = `sweep ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' ')}`;
      try {
        sweep.push(
          await runChild(env, label, d, [EVENT], {
            settings: { ...args.settings, ...duck },
            modelThreads: model_threads !== undefined ? Number(model_threads) : args.modelThreads,
            cacheMaxBytes: cache_max_bytes ?? args.cacheMaxBytes,
          }),
        );
      } catch (error) {
        console.error(String(error));
        sweep.push({
          label,
          settings,
          nodeStartSeconds: NaN,
          initSeconds: NaN,
          rssAfterInitKB: NaN,
          invocations: [],
          processSeconds: NaN,
          maxRssKB: NaN,
          peakCacheBytes: 0,
          peakSpillBytes: 0,
          peakTmpBytes: 0,
          cacheBytesAtExit: 0,
          stderrTail: '',
          error: String(error).slice(0, 2000),
        });
      }
    }

    // ------------------------------------------------------------ report
    const a = full.invocations[0];
    const b = plain.invocations[0];
    const c = late.invocations[0];
    const rows: Array<[string, ChildRun, Invocation]> = [
      ['(a) full build', full, a],
      ['(b) 1% day', plain, b],
      ['(c) 1% day, 2 late member changes', late, c],
      ['(d) no new data, cold', idle, idle.invocations[0]],
      ['(d) no new data, warm (same process)', idle, idle.invocations[1]],
    ];
    const settingsText = Object.entries(full.settings)
      .map(([k, v]) => `${k}: ${k === 'temp_directory' ? '(scratch)' : v}`)
      .join(', ');
    const lines = [
      `AWS Lambda benchmark — ${header.cpu}, node ${header.node}, load ${header.loadAtStart} at start; commit ${header.commit}` +
        (header.modified.length ? ` + ${header.modified.length} modified files` : '') +
        `; ${args.trades.toLocaleString('en-US')} trades (${baseFiles.length} Silver files, ${mib(silverBytes)}) generated in ${generated.toFixed(1)} s; days of ${day.toLocaleString('en-US')} trades ` +
        `(uploaded ${mib(dayUpload.bytes)} and ${mib(lateUpload.bytes)}); aws target: ${settingsText}`,
      '',
      '| invocation | status | init (spawn → handler callable) | handler wall | handler CPU | peak RSS | Node heap / external (peaks) | Silver GET | Gold+.smelter GET | Gold+.smelter PUT | requests | peak cache + spill on disk |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
      ...rows.map(([label, run, inv], i) => {
        const warm = i === 4;
        return (
          `| ${label} | ${inv.ok ? 'ok' : `FAILED ${inv.error?.name}`} | ${warm ? '—' : `${run.initSeconds.toFixed(2)} s`} | ${inv.seconds.toFixed(2)} s | ${inv.cpuSeconds.toFixed(2)} s | ` +
          `${mibKB(inv.maxRssKB)} | ${mibKB(inv.node.heapUsedKB)} / ${mibKB(inv.node.externalKB)} | ${mib(inv.traffic.silverGetBytes)} (${inv.traffic.silverGets}) | ${mib(inv.traffic.goldGetBytes)} (${inv.traffic.goldGets}) | ` +
          `${mib(inv.traffic.goldPutBytes)} (${inv.traffic.goldPuts}) | ${reqs(inv.traffic)} | ${warm ? '—' : mib(run.peakTmpBytes)} |`
        );
      }),
      '',
      '| ratio | Silver bytes read | bytes uploaded | handler wall time | process wall time |',
      '| --- | ---: | ---: | ---: | ---: |',
      `| (b) / (a) | ${pct(b.traffic.silverGetBytes, a.traffic.silverGetBytes)} | ${pct(b.traffic.goldPutBytes, a.traffic.goldPutBytes)} | ${pct(b.seconds, a.seconds)} | ${pct(plain.processSeconds, full.processSeconds)} |`,
      `| (c) / (a) | ${pct(c.traffic.silverGetBytes, a.traffic.silverGetBytes)} | ${pct(c.traffic.goldPutBytes, a.traffic.goldPutBytes)} | ${pct(c.seconds, a.seconds)} | ${pct(late.processSeconds, full.processSeconds)} |`,
      '',
      `| model | ${rows.map(([l]) => l).join(' | ')} |`,
      `| --- | ${rows.map(() => '---:').join(' | ')} |`,
      ...Object.keys(a.models).map((m) => `| ${m} | ${rows.map(([, , inv]) => (inv.models[m] ? `${inv.models[m].seconds.toFixed(2)} s (${inv.models[m].rows ?? '—'})` : '—')).join(' | ')} |`),
      '',
      'Where the bytes go (GET / PUT bytes by key prefix):',
      '',
      `| prefix | ${rows.map(([l]) => l).join(' | ')} |`,
      `| --- | ${rows.map(() => '---:').join(' | ')} |`,
      ...[...new Set(rows.flatMap(([, , inv]) => Object.keys(inv.traffic.byPrefix)))].sort().map((p) => {
        const cell = (inv: Invocation) => {
          const x = inv.traffic.byPrefix[p] ?? {};
          const g = x.GET ? `GET ${mib(x.GET.bytes)} (${x.GET.n})` : '';
          const u = x.PUT ? `PUT ${mib(x.PUT.bytes)} (${x.PUT.n})` : '';
          const other = Object.entries(x)
            .filter(([op]) => op !== 'GET' && op !== 'PUT')
            .map(([op, v]) => `${op} ${v.n}`)
            .join(' ');
          return [g, u, other].filter((s) => s !== '').join('; ') || '—';
        };
        return `| ${p === '' ? '(bucket level: DeleteObjects)' : p} | ${rows.map(([, , inv]) => cell(inv)).join(' | ')} |`;
      }),
      '',
      `Memory sweep: the ${args.trades.toLocaleString('en-US')}-trade full build, fresh process, cold cache, fresh bucket and state table each (the first row is (a)).`,
      '',
      '| aws target settings | status | handler wall | handler CPU | process wall | peak RSS | Node heap / external (peaks) | peak spill on disk | peak cache on disk |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...[full, ...sweep].map((r) => {
        const s = Object.entries(r.settings)
          .filter(([k]) => k !== 'temp_directory')
          .map(([k, v]) => `${k}=${v}`)
          .join(' ');
        const inv = r.invocations[0];
        if (!inv) return `| ${s} | FAILED (process) | | | | | | | |`;
        return `| ${s} | ${inv.ok ? 'ok' : `FAILED ${inv.error?.name}`} | ${inv.seconds.toFixed(2)} s | ${inv.cpuSeconds.toFixed(2)} s | ${r.processSeconds.toFixed(2)} s | ${mibKB(r.maxRssKB)} | ${mibKB(inv.node.heapUsedKB)} / ${mibKB(inv.node.externalKB)} | ${mib(r.peakSpillBytes)} | ${mib(r.peakCacheBytes)} |`;
      }),
      '',
      `Total bench time ${((performance.now() - started) / 1000).toFixed(0)} s; load average ${loadavg()[0].toFixed(2)} at the end.`,
    ];
    const table = lines.join('\n');
    const summary = {
      ...header,
      generatedSeconds: generated,
      silver: { files: baseFiles.length, bytes: silverBytes, dayUploads: [dayUpload, lateUpload] },
      runs: { full, day: plain, late, idle },
      ratios: {
        'b/a': { silverRead: b.traffic.silverGetBytes / a.traffic.silverGetBytes, uploaded: b.traffic.goldPutBytes / a.traffic.goldPutBytes, handlerWall: b.seconds / a.seconds, processWall: plain.processSeconds / full.processSeconds },
        'c/a': { silverRead: c.traffic.silverGetBytes / a.traffic.silverGetBytes, uploaded: c.traffic.goldPutBytes / a.traffic.goldPutBytes, handlerWall: c.seconds / a.seconds, processWall: late.processSeconds / full.processSeconds },
      },
      sweep,
      totalSeconds: (performance.now() - started) / 1000,
      loadAtEnd: Number(loadavg()[0].toFixed(2)),
    };
    mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'out', 'aws.json'), `${JSON.stringify({ ...summary, table }, null, 2)}\n`);
    console.log(JSON.stringify(summary, (k, v) => (k === 'byPrefix' || k === 'stderrTail' ? undefined : v), 2));
    console.log();
    console.log(table);
    if ([a, b, c, ...idle.invocations].some((i) => !i.ok)) process.exitCode = 1;
  } finally {
    proxy.close();
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
  // Servers and children would keep the process alive.
  setTimeout(() => process.exit(1), 100).unref();
});

