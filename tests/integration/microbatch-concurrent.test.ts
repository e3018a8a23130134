import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { REPO_ROOT } from '../helpers/cli.js';
import { createStateTable, startDynalite } from '../helpers/dynalite-server.js';
import { requestKey, startS3Gate, type S3Gate } from '../helpers/s3-gate.js';
import { createBucket, startS3rver, testS3Client, type S3Server } from '../helpers/s3-server.js';
import { S3Lake } from '../helpers/s3-lake.js';
import { writeTempProject } from '../helpers/temp-project.js';
import { rebasePlan } from '../../runtime/execute/batch-commit.js';

/**
 * Batches of one external microbatch model built by Lambda invocations at once, as a backfill's Map
 * runs them: each invocation the built handler in a process of its own against s3rver and dynalite.
 * A gate on S3 holds one batch after its build (its first upload to staging) while other batches
 * commit, so its commit finds a newer record than the one it built from: it rebases (keeps the
 * newly committed files, swaps only its own) or, when another batch rewrote a file it rewrote,
 * builds again. Either way the model equals a sequential build of the same batches.
 */

let s3rver: S3Server;
let gate: S3Gate;
let dynalite: Awaited<ReturnType<typeof startDynalite>>;
let s3: S3Client;
let dynamo: DynamoDBClient;
const BUCKET = 'backfill';
const children: ChildProcess[] = [];

beforeAll(async () => {
  s3rver = await startS3rver();
  gate = await startS3Gate(s3rver.endpoint);
  dynalite = await startDynalite();
  s3 = testS3Client(s3rver.endpoint);
  dynamo = new DynamoDBClient({ endpoint: dynalite.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  await createBucket(s3rver.endpoint, BUCKET);
}, 60_000);

afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.length = 0;
});

afterAll(async () => {
  s3?.destroy();
  dynamo?.destroy();
  await gate?.close();
  await s3rver?.close();
  await dynalite?.close();
});

/** `shift` moves an event's row to a later day than its batch: a model whose rows stray outside their window. */
const MODEL =
  "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='day', batch_size='day', begin='2024-06-01', external=true) }}\n" +
  "select cast(ts as date) + cast(shift as integer) as day, count(*) as events from {{ source('raw', 'events') }} group by 1\n";

/** A project on its own storage root and state table (so a sequential reference build sits beside the concurrent one). */
async function project(root: string, events: string): Promise<{ dir: string; lake: S3Lake }> {
  const table = `state-${root}`;
  await createStateTable(dynamo, table);
  const dir = writeTempProject({
    'project.yml':
      'name: mbc\ntarget: aws\ntargets:\n' +
      `  aws: { database: ":memory:", threads: 1, storage: "s3://${BUCKET}/${root}", state: { backend: dynamodb, table: ${table}, lease_seconds: 30 } }\n` +
      '# Superseded files go at once: the location must hold exactly the committed files.\nmodels: { +retain_superseded: 0 }\n',
    'models/sources.yml': "version: 2\nsources:\n  - name: raw\n    external_location: data/events.csv\n    tables:\n      - name: events\n        config: { event_time: ts }\n",
    'models/daily.sql': MODEL,
    'data/events.csv': events,
  });
  return { dir, lake: new S3Lake(s3, dynamo, BUCKET, root, table) };
}

interface Invoked {
  readonly result?: { status: string; results: Array<{ unique_id: string; status: string; rows: number | null; message?: string }> };
  readonly name?: string;
  readonly message?: string;
}

/** One Lambda invocation building the batch of `day`, in a process of its own with a cold cache. */
function invoke(dir: string, day: string): Promise<Invoked> {
  const end = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  const event = { command: 'build', select: ['daily'], event_time_start: day, event_time_end: end };
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { handler } from ${JSON.stringify(join(REPO_ROOT, 'dist/adapters/lambda/handler.js'))};\n` +
        `try { console.log(JSON.stringify({ result: await handler(${JSON.stringify(event)}) })); } catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }`,
    ],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        SMELTER_CRASH_AT: '',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_ENDPOINT_URL_S3: gate.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
        SMELTER_CACHE_DIR: mkdtempSync(join(tmpdir(), 'smelter-cache-')),
        SMELTER_PROJECT_DIR: dir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) =>
    child.once('close', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(last) as Invoked);
      } catch {
        reject(new Error(`the invocation for ${day} exited ${code} without an answer:\n${stdout}\n${stderr}`));
      }
    }),
  );
}

/** The batch's first staged upload: the batch has built, and has not yet taken the commit lock. */
const stagingPutOf = (root: string, day: string) => (req: IncomingMessage) =>
  req.method === 'PUT' && req.headers['x-amz-copy-source'] === undefined && requestKey(req).startsWith(`/${BUCKET}/${root}/.smelter/staging/main.daily@${day}T00:00:00.000Z/`);

const succeeded = (r: Invoked) => ({ status: r.result?.status ?? `${r.name}: ${r.message}`, model: r.result?.results.map((x) => x.status) });

/** What must hold of a committed model whatever the interleaving: exactly its files, no staging, no lease, no stray manifest. */
async function expectClean(lake: S3Lake, label: string) {
  const view = await lake.inspect('main.daily', 'main/daily');
  expect({ label, location: view.location, symlinked: view.symlinked, mismatches: view.mismatches, manifests: view.manifests }).toEqual({
    label,
    location: view.committed,
    symlinked: view.committed,
    mismatches: [],
    manifests: [view.pointer!.split('/').pop()],
  });
  expect({ label, staging: await lake.list('.smelter/staging'), leases: await lake.leases() }).toEqual({ label, staging: [], leases: [] });
  return view;
}

const EVENTS = 'ts,shift\n2024-06-01 08:00:00,0\n2024-06-01 09:00:00,0\n2024-06-02 10:00:00,0\n2024-06-03 11:00:00,0\n2024-06-03 12:00:00,0\n2024-06-03 13:00:00,0\n';
const DAYS = ['2024-06-01', '2024-06-02', '2024-06-03'];

describe('batches of an external microbatch model committed by Lambda invocations at once', () => {
  it('a batch whose base moved while it built rebases onto the latest commit: every batch once, the union of their files, rows as a sequential build', async () => {
    // What a sequential build of the three batches holds (each batch's rows are its day's events).
    const expected = [
      { day: '2024-06-01', events: '2' },
      { day: '2024-06-02', events: '1' },
      { day: '2024-06-03', events: '3' },
    ];
    const { dir, lake } = await project('concurrent', EVENTS);
    // The 2nd's batch is held once built; the 1st's and the 3rd's run meanwhile, side by side, and commit.
    const held = gate.hold(stagingPutOf('concurrent', DAYS[1]));
    const second = invoke(dir, DAYS[1]);
    await held;
    const [first, third] = await Promise.all([invoke(dir, DAYS[0]), invoke(dir, DAYS[2])]);
    gate.release();
    const late = await second;
    for (const r of [first, third, late]) expect(succeeded(r)).toEqual({ status: 'success', model: ['success'] });
    // It built from no record and committed onto the two others' (versions 1 and 2).
    expect(late.result!.results[0].message).toBe("batches: 1 rebased onto other runs' commits");

    const view = await expectClean(lake, 'concurrent');
    expect(view.rows).toEqual(expected);
    expect({ version: view.version, rowsTotal: view.rowsTotal }).toEqual({ version: 3, rowsTotal: 3 });
    // One file per batch, each named by the run that wrote it: the union of the three batches' files.
    expect(new Set(view.committed.map((name) => name.split('-')[0])).size).toBe(3);
    expect(view.committed).toHaveLength(3);
    expect(JSON.parse((await lake.item('main.daily'))!.batches!.S!)).toEqual([['2024-06-01T00:00:00.000Z', '2024-06-04T00:00:00.000Z']]);
  }, 60_000);

  it('a batch whose rewritten file another batch rewrote meanwhile is built again on the latest files; rows as a sequential build', async () => {
    // Day 1's batch writes a row on day 2 as well (shift 1): one file holds rows of both windows,
    // so the backfill's batches of days 1 and 2 both rewrite it.
    const events = 'ts,shift\n2024-06-01 08:00:00,0\n2024-06-01 09:00:00,1\n2024-06-02 10:00:00,0\n';
    const reference = await project('sequential-conflict', events);
    const concurrent = await project('concurrent-conflict', events);
    for (const p of [reference, concurrent]) expect(succeeded(await invoke(p.dir, DAYS[0]))).toEqual({ status: 'success', model: ['success'] });
    for (const day of DAYS.slice(0, 2)) expect(succeeded(await invoke(reference.dir, day))).toEqual({ status: 'success', model: ['success'] });
    const expected = await expectClean(reference.lake, 'sequential');

    const held = gate.hold(stagingPutOf('concurrent-conflict', DAYS[1]));
    const second = invoke(concurrent.dir, DAYS[1]);
    await held;
    const first = await invoke(concurrent.dir, DAYS[0]);
    gate.release();
    const late = await second;
    for (const r of [first, late]) expect(succeeded(r)).toEqual({ status: 'success', model: ['success'] });
    expect(late.result!.results[0].message).toContain('1 built again after a conflict');

    const view = await expectClean(concurrent.lake, 'concurrent');
    expect(view.rows).toEqual(expected.rows);
    expect(view.rowsTotal).toBe(expected.rowsTotal);
  }, 60_000);
});

describe('rebasePlan', () => {
  const file = (name: string) => ({ name, bytes: 1, sha256: name });
  it('keeps the latest files less the rewritten ones, names those committed since the base, and refuses when a rewritten file is gone', () => {
    expect(rebasePlan([file('a'), file('b')], [file('a'), file('b'), file('c')], ['b'])).toEqual({ kept: [file('a'), file('c')], added: [file('c')] });
    expect(rebasePlan([file('a'), file('b')], [file('a2'), file('b')], ['a'])).toEqual({ lost: ['a'] });
    expect(rebasePlan([], [file('x')], [])).toEqual({ kept: [file('x')], added: [file('x')] });
  });
});
