import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { mulberry32 } from '../../bench/kill-soak.js';
import { BIN } from '../helpers/cli.js';
import { createStateTable, startDynalite } from '../helpers/dynalite-server.js';
import { startS3Gate } from '../helpers/s3-gate.js';
import { startS3Proxy, type S3Proxy } from '../helpers/s3-proxy.js';
import { createBucket, startS3rver, testS3Client, type S3Server } from '../helpers/s3-server.js';
import { canonicalRows, S3Lake, type ModelView } from '../helpers/s3-lake.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * Crash safety of external models in S3 with state in DynamoDB, end to end: the built CLI
 * (`smelter run --target aws`) as a child process against s3rver (behind the counting proxy) and
 * dynalite. A run killed at any moment — at each named crash point, or at arbitrary times — and
 * then run again ends with exactly the rows of an uninterrupted run, read as Athena reads them
 * (the files the symlink manifests list), and each model's location holds only files its committed
 * manifest refers to (its files, and the superseded ones it retains for a while). Two concurrent
 * runs of one model: one commits, the other is refused.
 *
 * Leases last 1 s: a killed run's lease fences its model until it expires, so every rerun after a
 * kill first waits for the leases left in the table to expire.
 */

const MODELS = ['fact_append', 'fact_merge', 'summary'] as const;
type Model = (typeof MODELS)[number];

const SOURCES = "version: 2\nsources:\n  - name: landing\n    external_location: data/landing.csv\n    tables:\n      - name: rows\n";

/**
 * The models:
 * - fact_append appends the new documents: one new file a batch, nothing superseded;
 * - fact_merge merges on doc_id and re-reads the previous batch's last two documents (one of each
 *   `part`), so every batch rewrites the files holding them: partitioned by `part`, two files moved
 *   and two superseded a batch (unpartitioned, one of each); superseded files are deleted at once
 *   (`retain_superseded=0`);
 * - summary is a table over fact_append's committed files, partitioned by `grp`: every run
 *   publishes three files; the three it supersedes stay for the default retention.
 */
function modelFiles(partitioned: boolean): Record<string, string> {
  return {
    'models/fact_append.sql':
      "{{ config(materialized='incremental', external=true, watermark='doc_id') }}\nselect doc_id, amount from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where doc_id > {{ watermark() }}{% endif %}\n",
    'models/fact_merge.sql':
      `{{ config(materialized='incremental', external=true, unique_key='doc_id', watermark='doc_id', retain_superseded=0${partitioned ? ", partition_by=['part']" : ''}) }}\n` +
      "select doc_id, amount * 2 as amount, doc_id % 2 as part from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where doc_id > {{ watermark() }} - 2{% endif %}\n",
    'models/summary.sql':
      "{{ config(materialized='table', external=true, partition_by=['grp']) }}\nselect doc_id % 3 as grp, count(*) as n, sum(amount) as total from {{ ref('fact_append') }} group by 1\n",
  };
}

/**
 * Batch b lands documents 3b-2..3b, plus the previous batch's last two again (re-delivered). The
 * landing file holds only the latest batch: a run that lost its state would lose history, and one
 * that committed state without data would skip rows.
 */
function batch(b: number): string {
  const docs = b === 1 ? [1, 2, 3] : [3 * b - 4, 3 * b - 3, 3 * b - 2, 3 * b - 1, 3 * b];
  return `doc_id,amount\n${docs.map((d) => `${d},${d * 10}`).join('\n')}\n`;
}

/** The rows after batches 1..b (the uninterrupted reference run is checked against these too). */
function expectedRows(b: number): Record<Model, Array<Record<string, string>>> {
  const docs = Array.from({ length: 3 * b }, (_, i) => i + 1);
  return {
    fact_append: canonicalRows(docs.map((d) => ({ doc_id: String(d), amount: String(d * 10) }))),
    fact_merge: canonicalRows(docs.map((d) => ({ doc_id: String(d), amount: String(d * 20), part: String(d % 2) }))),
    summary: canonicalRows(
      [0, 1, 2].map((g) => {
        const members = docs.filter((d) => d % 3 === g);
        return { grp: String(g), n: String(members.length), total: String(members.reduce((s, d) => s + d * 10, 0)) };
      }),
    ),
  };
}

let s3rver: S3Server;
let proxy: S3Proxy;
let dynalite: Awaited<ReturnType<typeof startDynalite>>;
let s3: S3Client;
let dynamo: DynamoDBClient;
let projects = 0;

beforeAll(async () => {
  s3rver = await startS3rver();
  proxy = await startS3Proxy(s3rver.endpoint);
  dynalite = await startDynalite();
  s3 = testS3Client(s3rver.endpoint);
  dynamo = new DynamoDBClient({ endpoint: dynalite.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  dynamo?.destroy();
  await proxy?.close();
  await s3rver?.close();
  await dynalite?.close();
});

interface Project {
  readonly dir: string;
  readonly lake: S3Lake;
  /** The environment of its runs: AWS endpoints (S3 through `s3Endpoint`, default the proxy) and its own fresh object cache. */
  readonly env: Record<string, string>;
}

/** A project on its own bucket and state table: target aws stores in s3://BUCKET/lake, state in DynamoDB. */
async function newProject(options: { threads: number; leaseSeconds: number; s3Endpoint?: string; partitioned?: boolean }): Promise<Project> {
  const n = ++projects;
  const bucket = `crash-${n}`;
  const table = `state-${n}`;
  await createBucket(s3rver.endpoint, bucket);
  await createStateTable(dynamo, table);
  const dir = writeTempProject({
    'project.yml':
      'name: awscrash\ntarget: aws\ntargets:\n' +
      `  aws: { database: ":memory:", threads: ${options.threads}, storage: "s3://${bucket}/lake", state: { backend: dynamodb, table: ${table}, lease_seconds: ${options.leaseSeconds} } }\n`,
    'models/sources.yml': SOURCES,
    ...modelFiles(options.partitioned ?? true),
    'data/landing.csv': batch(1),
  });
  const env = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_ENDPOINT_URL_S3: options.s3Endpoint ?? proxy.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
    SMELTER_CACHE_DIR: mkdtempSync(join(tmpdir(), 'smelter-cache-')),
  };
  return { dir, lake: new S3Lake(s3, dynamo, bucket, 'lake', table), env };
}

const land = (project: Project, b: number) => writeFileSync(join(project.dir, 'data/landing.csv'), batch(b));

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `smelter run --target aws` on the project, asynchronously (dynalite and the proxy live in this
 * process: a synchronous spawn would starve them). `killAfterMs`: SIGKILL it then.
 */
function smelterRun(project: Project, extra: { env?: Record<string, string>; args?: string[]; killAfterMs?: number } = {}): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'run', '--target', 'aws', '--project-dir', project.dir, ...(extra.args ?? [])], {
      env: { ...process.env, SMELTER_CRASH_AT: '', ...project.env, ...extra.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    // The AWS SDK warns about Node 20 on stderr: not smelter's output.
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = extra.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), extra.killAfterMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr: stderr.replace(/\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*?--trace-warnings \.\.\.` to show where the warning was created\)\n/, '') });
    });
  });
}

/** A model as a reader outside smelter finds it (S3Lake.inspect). */
async function inspect(project: Project, model: Model): Promise<ModelView> {
  return project.lake.inspect(`main.${model}`, `main/${model}`);
}

/**
 * After a successful run: every model has exactly the rows of an uninterrupted run through batch
 * b; its location holds exactly the files its committed manifest refers to (its files, and the
 * superseded ones it retains), its symlink manifests list exactly its files, with their recorded
 * bytes; only the committed file-set manifest is left; staging is empty; no lease is held.
 */
async function expectCommitted(project: Project, b: number, label: Record<string, unknown>): Promise<Record<Model, ModelView>> {
  const expected = expectedRows(b);
  const views = {} as Record<Model, ModelView>;
  for (const model of MODELS) {
    const view = await inspect(project, model);
    views[model] = view;
    expect({ ...label, model, rows: view.rows }).toEqual({ ...label, model, rows: expected[model] });
    expect({ ...label, model, location: view.location, symlinked: view.symlinked, mismatches: view.mismatches, manifests: view.manifests }).toEqual({
      ...label,
      model,
      location: [...view.committed, ...view.retained].sort(),
      symlinked: view.committed,
      mismatches: [],
      manifests: [view.pointer!.split('/').pop()],
    });
    expect(view.committed.length).toBeGreaterThan(0);
    if (model !== 'summary') expect({ ...label, model, watermark: view.watermark, total: view.rowsTotal }).toEqual({ ...label, model, watermark: String(3 * b), total: 3 * b });
  }
  expect({ ...label, staging: await project.lake.list('.smelter/staging') }).toEqual({ ...label, staging: [] });
  expect({ ...label, leases: await project.lake.leases() }).toEqual({ ...label, leases: [] });
  return views;
}

/**
 * Names under each model's location that no commit refers to: neither a file (or retained
 * superseded file) of the version committed before the run (`before`) nor of the version now committed.
 */
async function strayFiles(project: Project, before: Record<Model, Pick<ModelView, 'committed' | 'retained'>>): Promise<Record<Model, string[]>> {
  const stray = {} as Record<Model, string[]>;
  for (const model of MODELS) {
    const now = await inspect(project, model);
    const allowed = new Set([...before[model].committed, ...before[model].retained, ...now.committed, ...now.retained]);
    stray[model] = now.location.filter((f) => !allowed.has(f));
  }
  return stray;
}

/** Settle every chain before failing, so no child process outlives the test. */
async function all(chains: Array<Promise<unknown>>): Promise<void> {
  const settled = await Promise.allSettled(chains);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}

describe('a killed run on S3 and DynamoDB, then reruns', () => {
  it('every named crash point, in a later run, then a rerun: the rows of an uninterrupted run, only committed files', async () => {
    // [point, model] per step. The points that act on S3 — before-state-commit (files staged, a
    // manifest written, no commit), after-commit (committed, nothing published), mid-publish (some
    // files published) and mid-cleanup (some superseded files deleted) — are hit in every model
    // that passes them (an append deletes nothing, nor does the summary within its retention),
    // except where the killed step was the publish's last file to move or delete: that recovery is
    // broken (the BUG test below). after-read (before the lease) and mid-write (the lease held,
    // files only in the local staging folder) leave S3 alike in every model: once each. Three
    // projects take the steps in turn, side by side, a step per batch.
    const chains: Array<Array<[string, Model]>> = [
      [['after-read', 'fact_merge'], ['before-state-commit', 'fact_append'], ['after-commit', 'fact_merge'], ['mid-publish', 'summary']],
      [['mid-write', 'summary'], ['before-state-commit', 'fact_merge'], ['after-commit', 'summary'], ['mid-publish', 'fact_merge']],
      [['before-state-commit', 'summary'], ['after-commit', 'fact_append'], ['mid-cleanup', 'fact_merge']],
    ];
    const batches = Math.max(...chains.map((steps) => steps.length)) + 1;

    // The uninterrupted reference: one run per batch, checked against expectedRows.
    const reference = async () => {
      const project = await newProject({ threads: 1, leaseSeconds: 1 });
      for (let b = 1; b <= batches; b++) {
        land(project, b);
        const r = await smelterRun(project);
        expect({ reference: b, code: r.code, out: r.code === 0 ? '' : r.stdout + r.stderr }).toEqual({ reference: b, code: 0, out: '' });
        await expectCommitted(project, b, { reference: b });
      }
    };

    // Batch 1 runs clean; batch k+1 is killed at the k-th step's point, then rerun.
    const chain = async (steps: Array<[string, Model]>) => {
      const project = await newProject({ threads: 1, leaseSeconds: 1 });
      expect((await smelterRun(project)).code).toBe(0);
      let before = await expectCommitted(project, 1, { b: 1 });
      for (const [i, [point, model]] of steps.entries()) {
        const b = i + 2;
        const label = { point, model, b };
        land(project, b);
        const crashed = await smelterRun(project, { env: { SMELTER_CRASH_AT: `${point}:${model}` } });
        expect({ ...label, code: crashed.code, signal: crashed.signal }).toEqual({ ...label, code: null, signal: 'SIGKILL' });
        // The location never holds a file no commit refers to.
        expect({ ...label, stray: await strayFiles(project, before) }).toEqual({ ...label, stray: { fact_append: [], fact_merge: [], summary: [] } });
        // One model at a time (threads: 1): the killed model's lease, taken after the point
        // after-read, is the only one left. It fences the model until it expires.
        expect({ ...label, leases: (await project.lake.leases()).map(([name]) => name) }).toEqual({
          ...label,
          leases: point === 'after-read' ? [] : [`main.${model}`],
        });
        await project.lake.waitForLeases();
        const rerun = await smelterRun(project);
        expect({ ...label, code: rerun.code, out: rerun.code === 0 ? '' : rerun.stdout + rerun.stderr }).toEqual({ ...label, code: 0, out: '' });
        before = await expectCommitted(project, b, label);
      }
    };

    await all([reference(), ...chains.map(chain)]);
  }, 240_000);

  it('SIGKILL at arbitrary moments (several seeds), then reruns: always the rows of an uninterrupted run', async () => {
    // Deterministic delays per seed: from before the process opens DuckDB to past its last commit
    // (a run takes 1.5–2 s on an idle machine, longer with three side by side); two models build at once.
    const seeds = [1, 2, 3];
    const run = async (seed: number) => {
      const random = mulberry32(seed);
      const project = await newProject({ threads: 2, leaseSeconds: 1 });
      let before: Record<Model, Pick<ModelView, 'committed' | 'retained'>> = {
        fact_append: { committed: [], retained: [] },
        fact_merge: { committed: [], retained: [] },
        summary: { committed: [], retained: [] },
      };
      for (let b = 1; b <= 3; b++) {
        land(project, b);
        const delay = 300 + Math.floor(random() * 2700);
        await smelterRun(project, { killAfterMs: delay });
        expect({ seed, b, delay, stray: await strayFiles(project, before) }).toEqual({ seed, b, delay, stray: { fact_append: [], fact_merge: [], summary: [] } });
        await project.lake.waitForLeases();
        let rerun = await smelterRun(project);
        // A lease taken by the killed run's last request may land only after we looked for leases.
        if (rerun.code === 3 && /another run holds/.test(rerun.stdout)) {
          await project.lake.waitForLeases();
          rerun = await smelterRun(project);
        }
        expect({ seed, b, delay, code: rerun.code, out: rerun.code === 0 ? '' : rerun.stdout + rerun.stderr }).toEqual({ seed, b, delay, code: 0, out: '' });
        before = await expectCommitted(project, b, { seed, b, delay });
      }
    };
    await all(seeds.map(run));
  }, 240_000);
});

/**
 * A run killed after moving its last file but before rewriting the symlink manifests (mid-publish
 * with one file to move: an append of one file), or after deleting its last superseded file
 * (mid-cleanup with one to delete: an unpartitioned merge rewriting its one file): the rerun's
 * recovery must still rewrite the symlink manifest (or Athena misses the committed rows until the
 * next commit) and remove the killed run's staging and the superseded manifest.
 */
describe('a killed run whose publish had one file left to move or delete', () => {
  it('a publish killed with one file left to move or delete: the rerun rewrites the symlink manifest and empties staging', async () => {
    const scenario = async (point: string, model: Model) => {
      const project = await newProject({ threads: 1, leaseSeconds: 1, partitioned: false });
      expect((await smelterRun(project)).code).toBe(0);
      land(project, 2);
      expect((await smelterRun(project, { env: { SMELTER_CRASH_AT: `${point}:${model}` } })).signal).toBe('SIGKILL');
      await project.lake.waitForLeases();
      expect((await smelterRun(project)).code).toBe(0);
      const view = await inspect(project, model);
      expect.soft({ point, model, rows: view.rows, symlinked: view.symlinked, manifests: view.manifests }).toEqual({
        point,
        model,
        rows: expectedRows(2)[model],
        symlinked: view.committed,
        manifests: [view.pointer!.split('/').pop()],
      });
      expect.soft({ point, model, staging: await project.lake.list('.smelter/staging') }).toEqual({ point, model, staging: [] });
    };
    // (1) the append's one new file moved, the symlink manifest not yet rewritten; (2) the merge's
    // one superseded file deleted, its staging folder and the old manifest not yet.
    await all([scenario('mid-publish', 'fact_append'), scenario('mid-cleanup', 'fact_merge')]);
  }, 60_000);
});

describe('two concurrent runs of one model', () => {
  it('exactly one commits; the other fails at once with "another run holds" (exit 3); the rows are one run\'s', async () => {
    // A gate in front of the proxy holds the first request a run makes under the model's lease
    // (the listing of the model's staging folder, by which every commit starts its recovery) until
    // the other run has ended: the two runs overlap for sure, whoever takes the lease first.
    const gate = await startS3Gate(proxy.endpoint);
    const stagingListing = (req: IncomingMessage) => {
      const url = new URL(req.url ?? '/', 'http://gate');
      return req.method === 'GET' && url.searchParams.get('prefix') === 'lake/.smelter/staging/main.fact_append/';
    };
    try {
      const project = await newProject({ threads: 1, leaseSeconds: 60, s3Endpoint: gate.endpoint });
      const select = ['--select', 'fact_append'];
      expect((await smelterRun(project, { args: select })).code).toBe(0);
      land(project, 2);
      const listingHeld = gate.hold(stagingListing);
      const runs = [smelterRun(project, { args: select }), smelterRun(project, { args: select })];
      const first = await Promise.race(runs);
      // The refused run may end before the lease holder, slowed by a loaded machine, reaches its
      // listing: release it only once it is held, so the two runs overlap whatever the timing.
      await listingHeld;
      gate.release();
      const exits = await Promise.all(runs);
      const second = exits.find((e) => e !== first)!;
      expect(gate.held).toBe(1);
      expect({ code: first.code, holds: /another run holds main\.fact_append: run \S+, lease until \S+/.test(first.stdout) }, first.stdout + first.stderr).toEqual({ code: 3, holds: true });
      expect({ code: second.code, ok: /1 of 1 OK incremental main\.fact_append \.+ \[3 rows in/.test(second.stdout) }, second.stdout + second.stderr).toEqual({ code: 0, ok: true });

      const view = await inspect(project, 'fact_append');
      expect(view.rows).toEqual(expectedRows(2).fact_append);
      expect({ version: view.version, watermark: view.watermark, total: view.rowsTotal }).toEqual({ version: 2, watermark: '6', total: 6 });
      expect({ location: view.location, symlinked: view.symlinked, manifests: view.manifests }).toEqual({
        location: view.committed,
        symlinked: view.committed,
        manifests: ['v2.json'],
      });
      expect(await project.lake.list('.smelter/staging')).toEqual([]);
      expect(await project.lake.leases()).toEqual([]);
    } finally {
      gate.release();
      await gate.close();
    }
  }, 60_000);
});
