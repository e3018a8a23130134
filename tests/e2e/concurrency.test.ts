import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { difference, lakeProblems, landDay, newSoakProject, smelterBuild, snapshot, type Snapshot } from '../../bench/kill-soak.js';
import { BIN, REPO_ROOT, removeCopy } from '../helpers/cli.js';
import { createStateTable, startDynalite } from '../helpers/dynalite-server.js';
import { requestKey, startS3Gate, type S3Gate } from '../helpers/s3-gate.js';
import { createBucket, startS3rver, testS3Client, type S3Server } from '../helpers/s3-server.js';
import { canonicalRows, S3Lake } from '../helpers/s3-lake.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * Two processes running the same models at once. Whatever the moment the second starts, one
 * builds and the other is refused — exit 3, "the target is locked by another run", or the Lambda
 * error `ConcurrentRun` — and the result is exactly that of one uninterrupted build: nothing
 * lost, nothing duplicated, and each external location holds exactly its committed files.
 *
 * On local storage the target's DuckDB file is the lock: the second process cannot open it. On S3
 * with DynamoDB state each model has a lease: the second run is refused at the model the first holds.
 */

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.length = 0;
});

interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Start a process, collecting its output. */
function start(args: readonly string[], env: Record<string, string> = {}): Started {
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, SMELTER_CRASH_AT: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return {
    child,
    output: () => stdout + stderr,
    exit,
  };
}

describe('two runs of the same models at once, on local storage', () => {
  it('whenever the second starts, one builds and the other exits 3 naming the holder; the models equal an uninterrupted build', async () => {
    // The kill soak's project: every stateful materialization, as a table and as external Parquet.
    const today = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
    const reference = newSoakProject(today);
    const dir = newSoakProject(today);
    try {
      const expected: Snapshot[] = [];
      for (let d = 1; d <= 3; d++) {
        landDay(reference, d, today);
        expect((await smelterBuild(reference)).code).toBe(0);
        expected.push(await snapshot(reference));
      }
      // When the second process starts, relative to the first: at once (either may win the file);
      // while the first is mid-build (summary_db's pre-hook holds it, some models committed, others
      // not); after its last node (an on-run-end hook holds it). A hook holds its run by reading a
      // named pipe: the run waits there until the test has run the second process and writes.
      const moments: Array<[string, 'hold_build' | 'hold_end' | undefined]> = [
        ['at the same moment', undefined],
        ['while the first is mid-build', 'hold_build'],
        ['after the first has built its last node', 'hold_end'],
      ];
      const db = join(dir, 'target/dev.duckdb');
      const fifo = join(mkdtempSync(join(tmpdir(), 'smelter-hold-')), 'hold');
      execFileSync('mkfifo', [fifo]);
      for (const [d, [moment, hold]] of moments.entries()) {
        landDay(dir, d + 1, today);
        const build = (vars?: string) => start([BIN, 'build', '--project-dir', dir, ...(vars ? ['--vars', vars] : [])]);
        let first: Started;
        let second: Started;
        if (hold === undefined) {
          first = build();
          second = build();
        } else {
          first = build(JSON.stringify({ [hold]: fifo }));
          // Opening the pipe's write end returns once the first run's hook has opened it to read.
          const writer = await Promise.race([open(fifo, 'w'), first.exit.then((r) => Promise.reject(new Error(`the first run ended before its hook:\n${r.stdout}${r.stderr}`)))]);
          second = build();
          await second.exit;
          await writer.write('x\n1\n');
          await writer.close();
        }
        const [a, b] = await Promise.all([first.exit, second.exit]);
        const codes = [a.code, b.code].sort();
        // Started together, one may (rarely, on a busy machine) open the file only after the other
        // has finished: then both build, the second finding nothing new. Held, the second is refused.
        if (hold || codes[1] !== 0) {
          expect({ moment, codes }, a.stdout + a.stderr + b.stdout + b.stderr).toEqual({ moment, codes: [0, 3] });
          const [winner, loser] = a.code === 0 ? [first, b] : [second, a];
          if (hold) expect({ moment, refused: b === loser }).toEqual({ moment, refused: true });
          expect({ moment, out: loser.stdout + loser.stderr }).toEqual({
            moment,
            out: `error: the database ${db} is locked by another process: ${process.execPath} (PID ${winner.child.pid}) (wait for that run to finish, or stop it)\n`,
          });
        }
        expect({ moment, difference: difference(expected[d], await snapshot(dir)), lake: await lakeProblems(dir) }).toEqual({ moment, difference: undefined, lake: [] });
      }
    } finally {
      removeCopy(reference);
      removeCopy(dir);
    }
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------
// S3 and DynamoDB
// ---------------------------------------------------------------------------------------------

let s3rver: S3Server;
let gate: S3Gate;
let dynalite: Awaited<ReturnType<typeof startDynalite>>;
let s3: S3Client;
let dynamo: DynamoDBClient;

beforeAll(async () => {
  s3rver = await startS3rver();
  gate = await startS3Gate(s3rver.endpoint);
  dynalite = await startDynalite();
  s3 = testS3Client(s3rver.endpoint);
  dynamo = new DynamoDBClient({ endpoint: dynalite.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
}, 60_000);

afterAll(async () => {
  s3?.destroy();
  dynamo?.destroy();
  await gate?.close();
  await s3rver?.close();
  await dynalite?.close();
});

const BUCKET = 'concurrency';
const TABLE = 'concurrency-state';

/**
 * `fact` merges on doc_id and re-reads the previous batch's last two documents, so every batch
 * rewrites a file; `summary` is a table over it. Batch b lands documents 3b-2..3b plus the
 * previous batch's last two again; the landing file holds only the latest batch.
 */
const FACT =
  "{{ config(materialized='incremental', external=true, unique_key='doc_id', watermark='doc_id', partition_by=['part']) }}\n" +
  "select doc_id, amount, doc_id % 2 as part from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where doc_id > {{ watermark() }} - 2{% endif %}\n";
const SUMMARY = "{{ config(materialized='table', external=true) }}\nselect count(*) as n, sum(amount) as total from {{ ref('fact') }}\n";

function batch(b: number): string {
  const docs = b === 1 ? [1, 2, 3] : [3 * b - 4, 3 * b - 3, 3 * b - 2, 3 * b - 1, 3 * b];
  return `doc_id,amount\n${docs.map((d) => `${d},${d * 10}`).join('\n')}\n`;
}

/** The rows of one uninterrupted build after batches 1..b. */
function expectedAfter(b: number) {
  const docs = Array.from({ length: 3 * b }, (_, i) => i + 1);
  return {
    fact: canonicalRows(docs.map((d) => ({ doc_id: String(d), amount: String(d * 10), part: String(d % 2) }))),
    summary: [{ n: String(docs.length), total: String(docs.reduce((s, d) => s + d * 10, 0)) }],
  };
}

describe('two runs of the same external incremental model at once, on S3 with DynamoDB state', () => {
  it('whenever the second starts — with the first, during its build, during its publish — one builds, the other exits 3 (CLI) or fails ConcurrentRun (Lambda); nothing lost or duplicated', async () => {
    await createBucket(s3rver.endpoint, BUCKET);
    await createStateTable(dynamo, TABLE);
    const lake = new S3Lake(s3, dynamo, BUCKET, 'lake', TABLE);
    const dir = writeTempProject({
      'project.yml':
        'name: concurrency\ntarget: aws\ntargets:\n' +
        `  aws: { database: ":memory:", threads: 1, storage: "s3://${BUCKET}/lake", state: { backend: dynamodb, table: ${TABLE}, lease_seconds: 30 } }\n` +
        '# Superseded files go at once: the location must hold exactly the committed files.\nmodels: { +retain_superseded: 0 }\n',
      'models/sources.yml': "version: 2\nsources:\n  - name: landing\n    external_location: data/landing.csv\n    tables:\n      - name: rows\n",
      'models/fact.sql': FACT,
      'models/summary.sql': SUMMARY,
      'data/landing.csv': batch(1),
    });
    // Each process has its own object cache, as two Lambda invocations would.
    const env = () => ({
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_ENDPOINT_URL_S3: gate.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
      SMELTER_CACHE_DIR: mkdtempSync(join(tmpdir(), 'smelter-cache-')),
      SMELTER_PROJECT_DIR: dir,
    });
    const cli = () => start([BIN, 'build', '--project-dir', dir], env());
    // A Lambda invocation in a process of its own: prints its result, or its error's name and message.
    const lambda = () =>
      start(
        [
          '--input-type=module',
          '-e',
          `import { handler } from ${JSON.stringify(join(REPO_ROOT, 'dist/adapters/lambda/handler.js'))};\n` +
            "try { console.log(JSON.stringify({ result: await handler({ command: 'build' }) })); } catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }",
        ],
        env(),
      );
    const stagingPut = (req: IncomingMessage) => req.method === 'PUT' && !req.headers['x-amz-copy-source'] && requestKey(req).startsWith(`/${BUCKET}/lake/.smelter/staging/main.fact/`);
    const publishCopy = (req: IncomingMessage) => req.method === 'PUT' && req.headers['x-amz-copy-source'] !== undefined && requestKey(req).startsWith(`/${BUCKET}/lake/main/fact/`);
    const refusedCli = /^1 of 2 ERROR incremental main\.fact .*\n[\s\S]*another run holds main\.fact: run \S+, lease until \d{4}-\d\d-\d\dT[\d:.]+Z/m;

    /** Everything of one uninterrupted build after batch b: rows, state, files, no staging, no lease. */
    const expectCommitted = async (b: number, label: string) => {
      const expected = expectedAfter(b);
      const fact = await lake.inspect('main.fact', 'main/fact');
      const summary = await lake.inspect('main.summary', 'main/summary');
      expect({ label, fact: fact.rows, summary: summary.rows }).toEqual({ label, ...expected });
      expect({ label, watermark: fact.watermark, total: fact.rowsTotal }).toEqual({ label, watermark: String(3 * b), total: 3 * b });
      for (const view of [fact, summary]) {
        expect({ label, location: view.location, symlinked: view.symlinked, mismatches: view.mismatches, manifests: view.manifests }).toEqual({
          label,
          location: view.committed,
          symlinked: view.committed,
          mismatches: [],
          manifests: [view.pointer!.split('/').pop()],
        });
      }
      expect({ label, staging: await lake.list('.smelter/staging'), leases: await lake.leases() }).toEqual({ label, staging: [], leases: [] });
    };

    const first = await cli().exit;
    expect(first.code, first.stdout + first.stderr).toBe(0);
    await expectCommitted(1, 'batch 1');

    // Batch 2: both at once, before either holds the lease. Either may win; the slower one may
    // also find the lease free again and build nothing new: any outcome but a loss is right.
    writeFileSync(join(dir, 'data/landing.csv'), batch(2));
    const both = await Promise.all([cli().exit, cli().exit]);
    const codes = both.map((r) => r.code).sort();
    expect([[0, 3], [0, 0]], both.map((r) => r.stdout + r.stderr).join('\n')).toContainEqual(codes);
    // Refused at the fact, or — when it found the fact's lease free again — at the summary the first then held.
    for (const r of both.filter((r) => r.code === 3)) expect(r.stdout).toMatch(/ERROR (incremental main\.fact|table main\.summary) [\s\S]*another run holds main\.(fact|summary): run \S+, lease until /);
    await expectCommitted(2, 'both at once');

    // Batch 3: the second starts while the first holds the lease, its first file being uploaded
    // to staging; batch 4: while the first publishes (its first copy into the location).
    for (const [b, moment, match] of [
      [3, 'during the build', stagingPut],
      [4, 'during the publish', publishCopy],
    ] as const) {
      writeFileSync(join(dir, 'data/landing.csv'), batch(b));
      const held = gate.hold(match);
      const holder = cli();
      await held;
      const refused = await cli().exit;
      expect({ moment, code: refused.code, refused: refusedCli.test(refused.stdout) }, refused.stdout + refused.stderr).toEqual({ moment, code: 3, refused: true });
      gate.release();
      const built = await holder.exit;
      expect({ moment, code: built.code }, built.stdout + built.stderr).toEqual({ moment, code: 0 });
      await expectCommitted(b, moment);
    }

    // Batch 5: two Lambda invocations in separate processes, the second while the first publishes.
    writeFileSync(join(dir, 'data/landing.csv'), batch(5));
    const held = gate.hold(publishCopy);
    const holder = lambda();
    await held;
    const refused = JSON.parse((await lambda().exit).stdout) as { name?: string; message?: string };
    gate.release();
    const built = JSON.parse((await holder.exit).stdout) as { result?: { status: string; watermarks: Record<string, string> } };
    expect({ name: refused.name, holds: /another run holds main\.fact: run \S+, lease until/.test(refused.message ?? '') }, refused.message).toEqual({ name: 'ConcurrentRun', holds: true });
    expect({ status: built.result?.status, watermarks: built.result?.watermarks }).toEqual({ status: 'success', watermarks: { 'main.fact': '15' } });
    await expectCommitted(5, 'two Lambda invocations');
    expect(gate.held).toBe(3);
  }, 90_000);
});
