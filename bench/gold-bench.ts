/**
 * The Gold project of this repository on 10,000,000 generated Silver trades: the full build, then
 * an appended day of 1% new trades without late member changes, then one with two late changes
 * (which make the fact rebuild the trades they move to another member version). Reports each
 * model's time (from target/run_results.json) and the whole process, as a Markdown table, and
 * writes bench/out/gold.json.
 *
 * Run with `npm run bench` (its last part) or `node dist/bench/gold-bench.js [--transactions N]`.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = join(ROOT, 'bench', 'out', 'gold');
const BIN = join(ROOT, 'bin', 'smelter.js');
const GENERATE = join(ROOT, 'dist', 'scripts', 'generate-silver.js');
const flag = process.argv.indexOf('--transactions');
const TRADES = flag > 0 ? Number(process.argv[flag + 1]) : 10_000_000;
const DAY = Math.round(TRADES / 100);

function timed(args: readonly string[], what: string): number {
  const start = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: DIR });
  if (r.status !== 0) throw new Error(`${what} failed:\n${r.stdout}${r.stderr}`);
  return (performance.now() - start) / 1000;
}

/** One `smelter run`: the whole process, and each model's time as run_results.json records it. */
function run(label: string): { label: string; process: number; models: Record<string, number>; rows: Record<string, number> } {
  const seconds = timed([BIN, 'run', '--project-dir', DIR], `smelter run (${label})`);
  const results = JSON.parse(readFileSync(join(DIR, 'target', 'run_results.json'), 'utf8')) as {
    results: Array<{ unique_id: string; execution_time: number; adapter_response: { rows_affected?: number } }>;
  };
  const models: Record<string, number> = {};
  const rows: Record<string, number> = {};
  for (const r of results.results) {
    const name = r.unique_id.split('.').pop()!;
    models[name] = r.execution_time;
    rows[name] = r.adapter_response.rows_affected ?? 0;
  }
  return { label, process: seconds, models, rows };
}

function main(): void {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  for (const part of ['project.yml', 'models', 'macros']) cpSync(join(ROOT, part), join(DIR, part), { recursive: true });
  const silver = join(DIR, 'data', 'silver');
  const generated = timed([GENERATE, '--transactions', String(TRADES), '--out', silver], 'generate');
  const full = run('full build');
  timed([GENERATE, '--append-day', '--transactions', String(DAY), '--late-changes', '0', '--out', silver], 'append day');
  const day = run('1% day');
  timed([GENERATE, '--append-day', '--transactions', String(DAY), '--late-changes', '2', '--out', silver], 'append day with late changes');
  const late = run('1% day, 2 late member changes');
  const idle = run('no new data');
  const runs = [full, day, late, idle];

  const models = Object.keys(full.models);
  const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(1)}%`;
  const table = [
    `Gold benchmark — ${cpus()[0]?.model ?? 'cpu'} x ${cpus().length}, node ${process.version}, load ${loadavg()[0].toFixed(2)} at start; ` +
      `${TRADES.toLocaleString('en-US')} trades generated in ${generated.toFixed(1)} s, days of ${DAY.toLocaleString('en-US')}`,
    '',
    `| model | ${runs.map((r) => r.label).join(' | ')} |`,
    `| --- | ${runs.map(() => '---:').join(' | ')} |`,
    ...models.map((m) => `| ${m} | ${runs.map((r) => `${r.models[m].toFixed(2)} s (${r.rows[m].toLocaleString('en-US')} rows)`).join(' | ')} |`),
    `| whole \`smelter run\` process | ${runs.map((r) => `${r.process.toFixed(2)} s`).join(' | ')} |`,
    `| fact day / fact full build | | ${pct(day.models.fact_ptr_transactions, full.models.fact_ptr_transactions)} | ${pct(late.models.fact_ptr_transactions, full.models.fact_ptr_transactions)} | ${pct(idle.models.fact_ptr_transactions, full.models.fact_ptr_transactions)} |`,
    `| process day / process full build | | ${pct(day.process, full.process)} | ${pct(late.process, full.process)} | ${pct(idle.process, full.process)} |`,
  ].join('\n');
  console.log(table);
  writeFileSync(join(ROOT, 'bench', 'out', 'gold.json'), JSON.stringify({ trades: TRADES, day: DAY, runs, table }, null, 2));
}

main();
