/**
 * Kill soak: every stateful materialization on local storage, SIGKILLed at random moments.
 *
 * A fixture project (written to a temporary folder) holds each materialization twice, as a
 * database table and as an external Parquet model: a table, incremental `append`, `merge` and
 * `delete+insert`, `microbatch` and `scd2`, with data tests, so `smelter build` audits before it
 * publishes. Its sources change from one input day to the next: new rows, changed keys and
 * re-delivered rows land (the landing file holds only the day's rows, so a run that lost state
 * would lose history, and one that committed state without data would skip rows), late events
 * fall into the microbatch lookback, members change party (a late change included).
 *
 * First the days are built without interruption, once each: the expected result of every day (the
 * exact rows of every model, sorted, and the state watermarks) and the wall time of each day's
 * build. Then fresh projects go through the same days; each day's `smelter build` (the CLI in
 * dist/, as a user runs it) is SIGKILLed after a delay drawn uniformly over that day's measured
 * duration (the reference's, then that of the latest whole build of the day a delay missed, so
 * the delays follow the machine's load) — sometimes twice, the second kill landing in the recovery — and then run again to the
 * end. After every rerun the models must equal the uninterrupted result exactly, and every
 * external model's location must hold exactly the files its committed manifest lists (no staged
 * file left behind). The seed is printed: `--seed S` draws the same delays (where they land
 * depends on the machine's speed).
 *
 *   node dist/bench/kill-soak.js [--kills N] [--seed S] [--days D] [--verbose]
 *
 * Exits 1 when any rerun failed or any day differed from the uninterrupted result.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { ROOT } from '../scripts/repo-root.js';

/** The CLI as a user runs it: bin/smelter.js loads dist/. */
export const SMELTER_BIN = join(ROOT, 'bin', 'smelter.js');

/** The models, one database and one external (Parquet) version each. */
export const KINDS = ['summary', 'append', 'merge', 'delins', 'daily', 'dim'] as const;
export const MODELS = KINDS.flatMap((k) => [`${k}_db`, `${k}_ext`]);

// ---------------------------------------------------------------------------------------------
// The fixture: a project and its input days
// ---------------------------------------------------------------------------------------------

const isoDay = (base: Date, offset: number) => new Date(base.getTime() + offset * 86_400_000).toISOString().slice(0, 10);

/** Landing rows of day d (1-based): `id, grp, amount, day`. Ten new ids, re-delivered and changed rows. */
function landing(d: number): string {
  const rows: Array<[number, number, number, number]> = [];
  const row = (id: number, day: number, amount: number) => rows.push([id, id % 4, amount, day]);
  // The previous day's last two new rows again, unchanged (a re-delivered file).
  if (d > 1) for (const id of [10 * (d - 1) - 1, 10 * (d - 1)]) row(id, d - 1, id * 10);
  // Three older ids change amount on day d (never one of the re-delivered ids).
  if (d > 1) {
    const pool = 10 * (d - 1) - 2;
    const changed = new Set<number>();
    for (let j = 0; changed.size < 3; j++) changed.add(((d * 7 + j * 5) % pool) + 1);
    for (const id of changed) row(id, d, id * 10 + d * 1000);
  }
  for (let id = 10 * (d - 1) + 1; id <= 10 * d; id++) row(id, d, id * 10);
  return `id,grp,amount,day\n${rows.map((r) => r.join(',')).join('\n')}\n`;
}

/** Events through day d, for the microbatch models: each day lands events today and late ones yesterday. */
function events(d: number, today: Date): string {
  const lines: string[] = [];
  // Day 1 also lands the two days before yesterday, so the first run fills several batches.
  if (d >= 1) lines.push(`${isoDay(today, -3)} 05:00:00,1`, `${isoDay(today, -2)} 06:00:00,2`, `${isoDay(today, -2)} 07:00:00,3`);
  for (let k = 1; k <= d; k++) {
    lines.push(`${isoDay(today, 0)} 0${k}:00:00,${10 * k}`, `${isoDay(today, 0)} 0${k}:30:00,${10 * k + 1}`, `${isoDay(today, -1)} 1${k}:00:00,${100 * k}`);
  }
  return `ts,v\n${lines.join('\n')}\n`;
}

/** Members through day d, for the scd2 models: a party change a day, and on day 3 a late one. */
function members(d: number): string {
  const lines = ['A,Democrat,2023-01-01', 'B,Republican,2023-01-01', 'C,Democrat,2023-01-01', 'D,Independent,2023-01-01'];
  const changes = [
    ['A,Independent,2024-02-01', 'C,Republican,2024-02-01'],
    ['B,Democrat,2024-03-01', 'E,Green,2024-03-01'],
    ['A,Green,2023-06-01', 'D,Democrat,2024-04-01'], // A's change is late: it falls inside A's first version
    ['C,Democrat,2024-05-01', 'B,Republican,2024-05-01'],
    ['E,Democrat,2024-06-01'],
    ['A,Democrat,2024-07-01'],
  ];
  const parties = ['Democrat', 'Republican', 'Independent', 'Green'];
  for (let k = 2; k <= d; k++) {
    // Past the scripted days, one change a day in a later year.
    lines.push(...(changes[k - 2] ?? [`${'ABCDE'[k % 5]},${parties[k % 4]},${2024 + k}-01-01`]));
  }
  return `id,party,since\n${lines.join('\n')}\n`;
}

function projectFiles(today: Date): Record<string, string> {
  const files: Record<string, string> = {
    'project.yml':
      'name: soak\n' +
      'targets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 2 }\n' +
      '# Superseded files go at once: a location must then hold exactly the committed files.\n' +
      'models: { +retain_superseded: 0 }\n' +
      '# A named pipe (FIFO) a hook reads, so a test can hold a run in mid-build or after its last node.\n' +
      "vars: { hold_build: '', hold_end: '' }\n" +
      'on-run-end: ["{{ hold(\'hold_end\') }}"]\n',
    'macros/hold.sql':
      '{# Reading a FIFO blocks until a writer opens it and closes it: the run waits there, holding its database. #}\n' +
      "{% macro hold(name) %}{% if var(name) %}select count(*) from read_csv('{{ var(name) }}', header = true){% else %}select 1{% endif %}{% endmacro %}\n",
    'models/sources.yml':
      'version: 2\nsources:\n' +
      '  - name: landing\n    external_location: data/landing.csv\n    tables:\n      - name: rows\n' +
      '  - name: raw\n    external_location: data/events.csv\n    tables:\n      - name: events\n        config: { event_time: ts }\n' +
      '  - name: silver\n    external_location: data/members.csv\n    tables:\n      - name: members\n',
    'models/schema.yml':
      'version: 2\nmodels:\n' +
      MODELS.filter((m) => /^(append|merge|delins)_/.test(m))
        .map((m) => `  - name: ${m}\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\n`)
        .join('') +
      '  - name: dim_db\n    columns:\n      - name: sk\n        data_tests: [unique]\n' +
      '  - name: dim_ext\n    columns:\n      - name: sk\n        data_tests: [unique]\n' +
      '  - name: summary_ext\n    columns:\n      - name: grp\n        data_tests: [unique]\n',
  };
  for (const ext of [false, true]) {
    const k = ext ? 'ext' : 'db';
    const external = ext ? ', external=true' : '';
    files[`models/append_${k}.sql`] =
      `{{ config(materialized='incremental', watermark='id'${external}) }}\n` +
      "select id, grp, amount, day from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where id > {{ watermark() }}{% endif %}\n";
    // Merge and delete+insert re-read the watermark day: re-delivered rows must not duplicate.
    files[`models/merge_${k}.sql`] =
      `{{ config(materialized='incremental', unique_key='id', watermark='day'${external}) }}\n` +
      "select id, grp, amount, day from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where day >= {{ watermark() }}{% endif %}\n";
    files[`models/delins_${k}.sql`] =
      `{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='id', watermark='day'${ext ? ", external=true, partition_by=['grp']" : ''}) }}\n` +
      "select id, grp, amount * 3 as amount, day from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where day >= {{ watermark() }}{% endif %}\n";
    files[`models/daily_${k}.sql`] =
      `{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='day', batch_size='day', begin='${isoDay(today, -3)}', lookback=1${external}) }}\n` +
      "select cast(ts as date) as day, count(*) as events, sum(v) as total from {{ source('raw', 'events') }} group by 1\n";
    files[`models/dim_${k}.sql`] =
      `{{ config(materialized='scd2', unique_key='id', check_cols=['party'], valid_from_column='since', surrogate_key='sk'${external}) }}\n` +
      "select id, party, since from {{ source('silver', 'members') }}\n";
    files[`models/summary_${k}.sql`] =
      `{{ config(materialized='table'${external}${ext ? '' : `, pre_hook="{{ hold('hold_build') }}"`}) }}\n` +
      `select grp, count(*) as n, sum(amount) as total, max(day) as last_day from {{ ref('merge_${k}') }} group by grp\n`;
  }
  return files;
}

/** A fresh fixture project holding day 1's inputs. */
export function newSoakProject(today: Date, parent = tmpdir()): string {
  const dir = mkdtempSync(join(parent, 'smelter-kill-soak-'));
  for (const [path, text] of Object.entries(projectFiles(today))) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  landDay(dir, 1, today);
  return dir;
}

/** Put day d's inputs in place. */
export function landDay(dir: string, d: number, today: Date): void {
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'data/landing.csv'), landing(d));
  writeFileSync(join(dir, 'data/events.csv'), events(d, today));
  writeFileSync(join(dir, 'data/members.csv'), members(d));
}

// ---------------------------------------------------------------------------------------------
// Running smelter, reading what it left
// ---------------------------------------------------------------------------------------------

export interface BuildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly ms: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `smelter build --log-format json` on the project; SIGKILLed after `killAfterMs` when given. */
export function smelterBuild(dir: string, killAfterMs?: number): Promise<BuildExit> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [SMELTER_BIN, 'build', '--log-format', 'json', '--project-dir', dir], {
      env: { ...process.env, SMELTER_CRASH_AT: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, ms: performance.now() - started, stdout, stderr });
    });
  });
}

/** What a day leaves: every model's rows (sorted), the state records' watermarks and totals. */
export interface Snapshot {
  readonly rows: Record<string, string[]>;
  readonly state: string[];
}

/** Every model's rows, sorted, and the state that must match an uninterrupted run. */
export async function snapshot(dir: string): Promise<Snapshot> {
  const instance = await DuckDBInstance.create(join(dir, 'target/dev.duckdb'), { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    try {
      const q = async (sql: string) => (await (await connection.run(sql)).getRowObjectsJson()) as Array<Record<string, unknown>>;
      const rows: Record<string, string[]> = {};
      for (const m of MODELS) rows[m] = (await q(`select * from main.${m} order by all`)).map((r) => JSON.stringify(r));
      // rows_processed and the version count a rerun's work (a table is rebuilt, a killed run may
      // have committed some models already): what must agree is where each model stands.
      const state = (await q('select table_name, watermark_type, watermark_data_type, last_processed_value, rows_total, batches from "_smelter"."state" order by all')).map((r) =>
        JSON.stringify(r),
      );
      return { rows, state };
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** Every file under `dir`, relative to it, sorted. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
}

/**
 * What is wrong with the lake after a successful run, or nothing: each external model's location
 * must hold exactly the files its committed manifest lists (and its symlink manifest), the
 * manifests folder only the committed manifest, and no run's staged file may be left.
 */
export async function lakeProblems(dir: string): Promise<string[]> {
  const lake = join(dir, 'target/lake');
  const problems: string[] = [];
  const instance = await DuckDBInstance.create(join(dir, 'target/dev.duckdb'), { access_mode: 'READ_ONLY' });
  let pointers: Record<string, string | null>;
  try {
    const connection = await instance.connect();
    try {
      const rows = (await (await connection.run('select table_name, manifest_pointer from "_smelter"."state"')).getRowObjectsJson()) as Array<Record<string, string | null>>;
      pointers = Object.fromEntries(rows.map((r) => [String(r.table_name), r.manifest_pointer]));
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
  for (const model of MODELS.filter((m) => m.endsWith('_ext'))) {
    const table = `main.${model}`;
    const pointer = pointers[table];
    // A microbatch model's manifest is per model too; every external model must have one.
    if (!pointer) {
      problems.push(`${table}: no committed manifest pointer`);
      continue;
    }
    const manifest = JSON.parse(readFileSync(join(lake, pointer), 'utf8')) as { files: Array<{ name: string }> };
    const committed = manifest.files.map((f) => f.name).sort();
    const location = filesUnder(join(lake, 'main', model)).filter((f) => !f.startsWith('_symlink_format_manifest/'));
    if (JSON.stringify(location) !== JSON.stringify(committed)) problems.push(`${table}: location holds [${location.join(', ')}], the commit lists [${committed.join(', ')}]`);
    const symlinked = filesUnder(join(lake, 'main', model, '_symlink_format_manifest'))
      .flatMap((f) => readFileSync(join(lake, 'main', model, '_symlink_format_manifest', f), 'utf8').split('\n'))
      .filter((l) => l !== '')
      .map((uri) => relative(join(lake, 'main', model), uri.replace(/^file:\/\//, '')))
      .sort();
    if (JSON.stringify(symlinked) !== JSON.stringify(committed)) problems.push(`${table}: symlink manifests list [${symlinked.join(', ')}], the commit lists [${committed.join(', ')}]`);
    const manifests = filesUnder(join(lake, '.smelter/manifests', table));
    if (JSON.stringify(manifests) !== JSON.stringify([pointer.split('/').pop()])) problems.push(`${table}: manifests [${manifests.join(', ')}], committed ${pointer}`);
  }
  const staged = filesUnder(join(lake, '.smelter/staging'));
  if (staged.length > 0) problems.push(`staged files left: ${staged.join(', ')}`);
  return problems;
}

/** What a failed run said: its error lines (JSON log lines of level error, and stderr), whole. */
function failures(run: BuildExit): string {
  const errors = run.stdout
    .split('\n')
    .filter((l) => l.includes('"level":"error"') && !l.includes('"event":"run_finish"'))
    .map((l) => {
      const e = JSON.parse(l) as { node?: string; message?: string };
      return `${e.node ?? 'run'}: ${e.message ?? ''}`;
    });
  return [...errors, run.stderr.trim()].filter((l) => l !== '').join(' | ') || run.stdout.trim().split('\n').slice(-3).join(' | ');
}

/** The first difference between two snapshots, as a line a person can act on; undefined when equal. */
export function difference(expected: Snapshot, actual: Snapshot): string | undefined {
  for (const m of MODELS) {
    const e = expected.rows[m];
    const a = actual.rows[m];
    if (JSON.stringify(e) === JSON.stringify(a)) continue;
    const missing = e.filter((r) => !a.includes(r));
    const extra = a.filter((r) => !e.includes(r));
    const dup = a.length - new Set(a).size;
    return `${m}: ${a.length} rows, expected ${e.length}; missing ${missing.slice(0, 3).join(' ') || 'none'}; unexpected ${extra.slice(0, 3).join(' ') || 'none'}${dup ? `; ${dup} duplicated` : ''}`;
  }
  if (JSON.stringify(expected.state) !== JSON.stringify(actual.state)) {
    const missing = expected.state.filter((s) => !actual.state.includes(s));
    const extra = actual.state.filter((s) => !expected.state.includes(s));
    return `state differs: expected ${missing.join(' ') || '-'}; found ${extra.join(' ') || '-'}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Where a kill landed
// ---------------------------------------------------------------------------------------------

/** Where a kill landed. */
export interface Landing {
  /** The phase of the run: start-up, building (which third of the nodes had finished), after the run. */
  readonly phase: string;
  /** Models that had started and not finished: what the kill cut short. */
  readonly inFlight: string[];
}

/**
 * Where a kill landed, from the JSON log lines the run had printed: before the run started (parse,
 * opening DuckDB, reading state), while building (how many nodes had finished, of how many, and
 * which models were running), or after the last node (artifacts, exit).
 */
export function landingOf(stdout: string): Landing {
  const events = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as { event?: string; node?: string; message?: string };
      } catch {
        return {};
      }
    });
  if (events.some((e) => e.event === 'run_finish')) return { phase: 'after the run', inFlight: [] };
  const start = events.find((e) => e.event === 'run_start');
  if (!start) return { phase: 'start-up', inFlight: [] };
  const total = Number(/^(\d+)/.exec(start.message ?? '')?.[1] ?? NaN);
  const finished = new Set(events.filter((e) => e.event === 'node_finish').map((e) => e.node));
  const inFlight = events
    .filter((e) => e.event === 'node_start' && !finished.has(e.node) && e.node?.startsWith('model.'))
    .map((e) => e.node!.slice(e.node!.lastIndexOf('.') + 1))
    .sort();
  // Thirds of the run, so the table stays short whatever the node count.
  const third = Math.min(2, Math.floor((3 * finished.size) / total));
  return { phase: ['building, first third', 'building, second third', 'building, last third'][third], inFlight };
}

/** What a kill can leave on disk: staged files, and DuckDB's write-ahead log. */
function leftovers(dir: string): { staged: string; wal: string } {
  const walPath = join(dir, 'target/dev.duckdb.wal');
  const wal = existsSync(walPath) ? statSync(walPath) : undefined;
  return { staged: filesUnder(join(dir, 'target/lake/.smelter/staging')).join(','), wal: wal ? `${wal.size}@${wal.mtimeMs}` : '' };
}

// ---------------------------------------------------------------------------------------------
// The soak
// ---------------------------------------------------------------------------------------------

/** mulberry32: a seeded PRNG, so a seed replays the same delays. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SoakOptions {
  /** SIGKILLs to make (a kill that lands after the process exited does not count). */
  readonly kills: number;
  readonly seed: number;
  /** Input days per project (default 4). */
  readonly days?: number;
  /** Where the projects go (default: the system's temporary folder); removed unless `keep`. */
  readonly parent?: string;
  readonly keep?: boolean;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

export interface SoakFigures {
  readonly seed: number;
  readonly days: number;
  readonly kills: number;
  /** Kills by the phase they landed in. */
  readonly phases: Record<string, number>;
  /** Kills that cut each model short (it had started and not finished). */
  readonly cutShort: Record<string, number>;
  /** Kills after which files were left in the staging area (an external write or publish cut short). */
  readonly killsLeavingStagedFiles: number;
  /** Kills after which DuckDB's write-ahead log was left (uncommitted or uncheckpointed work). */
  readonly killsLeavingWal: number;
  /** Delays drawn past the end of the run: the process had exited; not counted as kills. */
  readonly missed: number;
  /** Reruns to the end (one per day of each project), each compared with the uninterrupted day. */
  readonly reruns: number;
  /** Every rerun that failed, or differed from the uninterrupted result, or left the lake wrong. */
  readonly mismatches: string[];
  /** The wall time of each day's uninterrupted build (the reference), in seconds. Kills' delays are drawn over the latest whole build of the day: this at first, then a build a delay missed. */
  readonly daySeconds: number[];
  readonly projects: number;
  readonly wallSeconds: number;
}

/** Run the soak; throws only when the uninterrupted reference itself fails. */
export async function killSoak(options: SoakOptions): Promise<SoakFigures> {
  const started = performance.now();
  const days = options.days ?? 4;
  const log = options.log ?? (() => undefined);
  const random = mulberry32(options.seed);
  // Microbatch batches run up to now: the soak's dates are fixed once, and a soak across UTC
  // midnight would see a new batch that the reference did not.
  const today = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
  const created: string[] = [];
  const fresh = () => {
    const dir = newSoakProject(today, options.parent);
    created.push(dir);
    return dir;
  };
  const checkDate = () => {
    if (new Date().toISOString().slice(0, 10) !== today.toISOString().slice(0, 10)) {
      throw new Error('UTC midnight passed during the soak: the microbatch models now have a batch the reference run did not; run the soak again');
    }
  };

  try {
    // The uninterrupted reference: each day built once, its result and duration kept.
    const reference = fresh();
    const expected: Snapshot[] = [];
    const durations: number[] = [];
    for (let d = 1; d <= days; d++) {
      landDay(reference, d, today);
      const r = await smelterBuild(reference);
      if (r.code !== 0) throw new Error(`the uninterrupted build of day ${d} failed (exit ${r.code}):\n${r.stdout}${r.stderr}`);
      const problems = await lakeProblems(reference);
      if (problems.length > 0) throw new Error(`the uninterrupted build of day ${d} left the lake wrong: ${problems.join('; ')}`);
      expected.push(await snapshot(reference));
      durations.push(r.ms);
      log(`reference day ${d}: ${(r.ms / 1000).toFixed(2)} s, ${Object.values(expected[d - 1].rows).reduce((s, rows) => s + rows.length, 0)} rows in ${MODELS.length} models`);
    }

    const referenceMs = [...durations];
    let kills = 0;
    let missed = 0;
    let reruns = 0;
    let staged = 0;
    let wal = 0;
    let projects = 0;
    const phases: Record<string, number> = {};
    const cutShort: Record<string, number> = {};
    const mismatches: string[] = [];
    while (kills < options.kills) {
      const dir = fresh();
      projects++;
      for (let d = 1; d <= days && kills < options.kills; d++) {
        landDay(dir, d, today);
        // One kill, and one time in four a second one in the recovery run.
        const attempts = random() < 0.25 ? 2 : 1;
        const landed: string[] = [];
        for (let a = 0; a < attempts; a++) {
          const delay = Math.floor(random() * durations[d - 1]);
          const before = leftovers(dir);
          const r = await smelterBuild(dir, delay);
          if (r.signal !== 'SIGKILL') {
            missed++;
            // A whole build of the day: the latest measure of its duration, so delays follow the machine's load.
            if (a === 0 && r.code === 0) durations[d - 1] = r.ms;
            landed.push(`${delay} ms: ran to the end (exit ${r.code})`);
            continue;
          }
          kills++;
          const { phase, inFlight } = landingOf(r.stdout);
          phases[phase] = (phases[phase] ?? 0) + 1;
          for (const m of inFlight) cutShort[m] = (cutShort[m] ?? 0) + 1;
          // What this kill left (not what an earlier kill of the same day had left).
          const after = leftovers(dir);
          const leftStaged = after.staged !== '' && after.staged !== before.staged;
          const leftWal = after.wal !== '' && after.wal !== before.wal;
          if (leftStaged) staged++;
          if (leftWal) wal++;
          landed.push(`${delay} ms: ${phase}${inFlight.length ? ` (${inFlight.join(', ')} running)` : ''}${leftStaged ? ', staged files left' : ''}${leftWal ? ', WAL left' : ''}`);
        }
        const rerun = await smelterBuild(dir);
        reruns++;
        checkDate();
        const label = `seed ${options.seed}, project ${projects}, day ${d}, kills at ${landed.join('; ')}`;
        let problem: string | undefined;
        if (rerun.code !== 0) problem = `the rerun exited ${rerun.code ?? rerun.signal}: ${failures(rerun)}`;
        else problem = difference(expected[d - 1], await snapshot(dir)) ?? ((await lakeProblems(dir)).join('; ') || undefined);
        log(`${label} -> ${problem ? `MISMATCH ${problem}` : 'rerun OK, equal to the uninterrupted day'}`);
        if (problem) {
          mismatches.push(`${label}: ${problem}`);
          break; // this project's later days would only repeat the difference: start a fresh one
        }
      }
    }
    return {
      seed: options.seed,
      days,
      kills,
      phases,
      cutShort,
      killsLeavingStagedFiles: staged,
      killsLeavingWal: wal,
      missed,
      reruns,
      mismatches,
      daySeconds: referenceMs.map((ms) => ms / 1000),
      projects,
      wallSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    if (!options.keep) for (const dir of created) rmSync(dir, { recursive: true, force: true });
  }
}

/** The figures as the Markdown table BENCHMARKS.md keeps. */
export function figuresTable(f: SoakFigures): string {
  const rows: Array<[string, string]> = [
    ['seed', String(f.seed)],
    ['input days per project', String(f.days)],
    ['uninterrupted build per day', f.daySeconds.map((s) => `${s.toFixed(2)} s`).join(', ')],
    ['SIGKILLs made', String(f.kills)],
    ...Object.entries(f.phases)
      .sort()
      .map(([phase, n]): [string, string] => [`  landed: ${phase}`, String(n)]),
    ['  of which left staged files', String(f.killsLeavingStagedFiles)],
    ['  of which left a DuckDB WAL', String(f.killsLeavingWal)],
    ...MODELS.map((m): [string, string] => [`  with ${m} running`, String(f.cutShort[m] ?? 0)]),
    ['delays past the end of the run (not counted)', String(f.missed)],
    ['projects', String(f.projects)],
    ['reruns, each compared with the uninterrupted day', String(f.reruns)],
    ['mismatches', String(f.mismatches.length)],
    ['wall time', `${f.wallSeconds.toFixed(1)} s`],
  ];
  return ['| figure | value |', '| --- | ---: |', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
}

function parseCli(argv: readonly string[]): SoakOptions & { verbose: boolean } {
  let kills = 50;
  let seed = Math.floor(Math.random() * 2 ** 31);
  let days = 4;
  let verbose = false;
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const int = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a whole number, got ${argv[i] ?? 'nothing'}`);
      return v;
    };
    if (a === '--kills') kills = int();
    else if (a === '--seed') seed = int();
    else if (a === '--days') days = Math.max(1, int());
    else if (a === '--verbose') verbose = true;
    else if (a === '--keep') keep = true;
    else throw new Error(`unknown argument ${a} (usage: kill-soak [--kills N] [--seed S] [--days D] [--verbose] [--keep])`);
  }
  return { kills, seed, days, verbose, keep };
}

async function main(): Promise<number> {
  const { verbose, ...options } = parseCli(process.argv.slice(2));
  console.log(`kill soak: ${options.kills} kills, seed ${options.seed} (replay with --seed ${options.seed}), ${cpus().length} cores, load average ${loadavg()[0].toFixed(2)}`);
  const figures = await killSoak({ ...options, log: verbose ? (l) => console.log(l) : undefined });
  console.log(figuresTable(figures));
  for (const m of figures.mismatches) console.log(`MISMATCH ${m}`);
  return figures.mismatches.length === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (error: Error) => {
      console.error(`kill soak failed: ${error.message}`);
      process.exit(2);
    },
  );
}
