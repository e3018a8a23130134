/**
 * Incremental runs on a 10-million-row fact with 1% new rows, side by side in one run:
 * smelter's `append`, `merge` and external (Parquet) `append` runs against the very statements they executed, run directly
 * through @duckdb/node-api on a copy of the same database; against the full build; and the run
 * with no new data. Each day is measured twice: as a `smelter run` process, and as a run of a warm
 * `Session` (the parsed project and the DuckDB instance kept, as a warm Lambda keeps them).
 * Prints a Markdown table and writes bench/out/incremental.json.
 *
 * Run with `npm run bench` (after the core benchmark) or `node dist/bench/incremental-bench.js`.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { Session } from '../runtime/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = join(ROOT, 'bench', 'out', 'incremental');
const BIN = join(ROOT, 'bin', 'smelter.js');
const ROWS = 10_000_000;
const NEW_ROWS = ROWS / 100;
/** Each day is measured this many times; the table gives medians. */
const REPEATS = 3;

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const PROJECT = 'name: incbench\ntargets:\n  dev: { database: target/bench.duckdb, storage: target/lake, threads: 1, settings: { threads: 2 } }\n';
const SOURCES = "version: 2\nsources:\n  - name: silver\n    external_location: data/*.parquet\n    tables:\n      - name: transactions\n";
// The Gold pattern: new filings only, by the doc_id watermark.
const BODY = `select doc_id, line_number, ticker, amount, amount * 1.5 as amount_midpoint
from {{ source('silver', 'transactions') }}
{% if is_incremental() %}where doc_id > {{ watermark() }}{% endif %}
`;
const MODELS = {
  fact_append: `{{ config(materialized='incremental', watermark='doc_id') }}\n${BODY}`,
  fact_merge: `{{ config(materialized='incremental', unique_key=['doc_id', 'line_number'], watermark='doc_id') }}\n${BODY}`,
  fact_external: `{{ config(materialized='incremental', external=true, watermark='doc_id') }}\n${BODY}`,
};

async function duck(path: string, statements: readonly string[]): Promise<number> {
  const start = performance.now();
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  for (const sql of statements) {
    // An external model's COPY writes into a staging folder that smelter created (and has removed).
    const copyTarget = /\) TO '([^']+)'/.exec(sql)?.[1];
    if (copyTarget) mkdirSync(copyTarget.endsWith('.parquet') ? dirname(copyTarget) : copyTarget, { recursive: true });
    await connection.run(sql);
  }
  connection.closeSync();
  instance.closeSync();
  return (performance.now() - start) / 1000;
}

function smelter(...args: string[]): number {
  const start = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args, '--project-dir', DIR], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`smelter ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return (performance.now() - start) / 1000;
}

/** Seconds one run of a session takes; a failed model fails the benchmark. */
async function sessionRun(session: Session, model: string, fullRefresh = false): Promise<number> {
  const start = performance.now();
  const { run } = await session.run('run', { select: [model], fullRefresh });
  const failed = run.results.find((r) => r.status !== 'success');
  if (failed) throw new Error(`session run of ${model} failed: ${failed.message}`);
  return (performance.now() - start) / 1000;
}

/** The statements a node executed, from target/run/ (its BEGIN/COMMIT included). */
function runStatements(model: string): string[] {
  return readFileSync(join(DIR, 'target', 'run', 'models', `${model}.sql`), 'utf8')
    .split(';\n')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== ';');
}

const silverRows = (from: number, count: number) =>
  `SELECT (${from} + i // 3)::BIGINT AS doc_id, (i % 3 + 1)::INTEGER AS line_number, ` +
  `['AAPL','MSFT','NVDA','TSLA', NULL][(i % 5) + 1] AS ticker, ((i * 7919) % 100000)::DECIMAL(18,2) AS amount FROM range(${count}) t(i)`;

async function main(): Promise<void> {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(join(DIR, 'models'), { recursive: true });
  mkdirSync(join(DIR, 'data'), { recursive: true });
  writeFileSync(join(DIR, 'project.yml'), PROJECT);
  writeFileSync(join(DIR, 'models', 'sources.yml'), SOURCES);
  for (const [name, sql] of Object.entries(MODELS)) writeFileSync(join(DIR, 'models', `${name}.sql`), sql);
  const base = 20_000_000;
  await duck(':memory:', [`COPY (${silverRows(base, ROWS)}) TO '${join(DIR, 'data', 'part-0.parquet')}' (FORMAT parquet, COMPRESSION zstd)`]);

  const db = join(DIR, 'target', 'bench.duckdb');
  // 1% new filings, as the next day's Silver file.
  const landNextDay = () =>
    duck(':memory:', [`COPY (${silverRows(base + ROWS / 3 + 1, NEW_ROWS)}) TO '${join(DIR, 'data', 'part-1.parquet')}' (FORMAT parquet, COMPRESSION zstd)`]);
  const startAfresh = () => {
    rmSync(join(DIR, 'target'), { recursive: true, force: true });
    rmSync(join(DIR, 'data', 'part-1.parquet'), { force: true });
  };
  /** One day of one model, both ways: the figures in seconds. */
  async function measureDay(model: string): Promise<Record<string, number>> {
    startAfresh();
    const full = smelter('run', '--select', model);
    await landNextDay();
    const snapshot = join(DIR, 'before-increment.duckdb');
    copyFileSync(db, snapshot);
    const increment = smelter('run', '--select', model);
    const direct = await duck(snapshot, runStatements(model));
    rmSync(snapshot, { force: true });
    const idle = smelter('run', '--select', model);

    // The same day in a warm session (parsed project and DuckDB instance kept, as the Lambda adapter
    // keeps them across warm invocations): the first run warms it and is not counted, the measured
    // full build is a --full-refresh of the same model.
    startAfresh();
    const session = new Session({ projectDir: DIR });
    try {
      await sessionRun(session, model);
      const warmFull = await sessionRun(session, model, true);
      await landNextDay();
      const warmIncrement = await sessionRun(session, model);
      const warmIdle = await sessionRun(session, model);
      return { full, increment, direct, idle, warmFull, warmIncrement, warmIdle };
    } finally {
      await session.close();
    }
  }

  const rows: Array<[string, string, number]> = [];
  for (const model of Object.keys(MODELS)) {
    const strategy = model === 'fact_external' ? 'external append' : model.replace('fact_', '');
    const days: Array<Record<string, number>> = [];
    for (let i = 0; i < REPEATS; i++) days.push(await measureDay(model));
    const m = (figure: string) => median(days.map((d) => d[figure]));
    const fullBuild = `${strategy}: full build of ${ROWS.toLocaleString('en-US')} rows`;
    rows.push([fullBuild, 'smelter run', m('full')]);
    rows.push([`${strategy}: 1% new rows`, 'smelter run', m('increment')]);
    rows.push([`${strategy}: 1% new rows`, 'the same statements, direct', m('direct')]);
    rows.push([`${strategy}: no new data`, 'smelter run', m('idle')]);
    rows.push([`${strategy}: increment / full build`, 'ratio, smelter run', m('increment') / m('full')]);
    rows.push([fullBuild, 'warm session', m('warmFull')]);
    rows.push([`${strategy}: 1% new rows`, 'warm session', m('warmIncrement')]);
    rows.push([`${strategy}: no new data`, 'warm session', m('warmIdle')]);
    rows.push([`${strategy}: increment / full build`, 'ratio, warm session', m('warmIncrement') / m('warmFull')]);
  }
  // Calibration: what any process that opens DuckDB pays before smelter does anything.
  const startup = (() => {
    const start = performance.now();
    // require, as smelter loads it (an ESM import of the CommonJS package costs ~60 ms more).
    spawnSync(process.execPath, ['-e', "require('@duckdb/node-api')"], { cwd: ROOT });
    return (performance.now() - start) / 1000;
  })();
  rows.unshift(['node start-up + loading DuckDB (calibration)', 'node -e', startup]);
  const table = [
    `incremental benchmark — ${cpus()[0]?.model ?? 'cpu'} x ${cpus().length}, node ${process.version}, load ${loadavg()[0].toFixed(2)} at start`,
    `medians of ${REPEATS}. smelter run: a whole process (node start-up included); warm session: one run in a process that has run before; direct: open, execute, close in process.`,
    '',
    '| figure | how | value |',
    '| --- | --- | ---: |',
    ...rows.map(([figure, how, v]) => `| ${figure} | ${how} | ${how.startsWith('ratio') ? `${(v * 100).toFixed(1)}%` : `${v.toFixed(3)} s`} |`),
  ].join('\n');
  console.log(table);
  writeFileSync(join(ROOT, 'bench', 'out', 'incremental.json'), JSON.stringify({ rows, table }, null, 2));
  if (!existsSync(db)) process.exitCode = 1;
}

await main();
