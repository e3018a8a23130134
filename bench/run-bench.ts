/**
 * The smelter benchmarks, in one run: parse (`ls`) and `compile` of 1,000 and 10,000 generated
 * models, and `run --threads 1` of 1,000 models against the very same statements executed directly
 * through @duckdb/node-api. Prints a Markdown table and writes bench/out/results.json.
 *
 * Run with `npm run bench` (builds first; this file runs as dist/bench/run-bench.js). The timing
 * helpers are exported for the other benches (dataform-bench.ts); importing this file runs nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { DATABASE_PATH, GENERATOR_VERSION, MARKER_FILE, generateProject } from './generate-project.js';
import type { GeneratedProject } from './generate-project.js';

/** Compiled to dist/bench/, so the repository root is two levels up. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const OUT = join(ROOT, 'bench', 'out');
export const BIN = join(ROOT, 'bin', 'smelter.js');
const GNU_TIME = '/usr/bin/time';
export const HAVE_GNU_TIME = existsSync(GNU_TIME);
const REPEATS = 3;
const SEED = 42;
const PARSE_SIZES = [1_000, 10_000];
const RUN_SIZE = 1_000;
/** The targets, in seconds, by command and project size: cold, target/ deleted before each run. */
const TARGET_SECONDS: Readonly<Record<string, Readonly<Record<number, number>>>> = { ls: { 10_000: 0.5 }, compile: { 10_000: 1.5 } };
/** Run overhead per model above the same statements run directly, in ms. */
const RUN_OVERHEAD_TARGET_MS = 0.5;

/** One timed execution. Peak RSS is only known for child processes run under GNU time. */
export interface Sample {
  readonly seconds: number;
  readonly peakRssMb?: number;
}

/** The median of REPEATS samples, or why the measure could not be taken. */
export interface Measure {
  readonly seconds?: number;
  readonly peakRssMb?: number;
  readonly samples: readonly Sample[];
  readonly error?: string;
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

export const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Reuses a project generated earlier (in `dir`) by the same generator version, seed and size. */
export function ensureProject(models: number, dir = join(OUT, `p${models}`)): string {
  const marker = join(dir, MARKER_FILE);
  if (existsSync(marker)) {
    const previous = JSON.parse(readFileSync(marker, 'utf8')) as GeneratedProject;
    if (previous.version === GENERATOR_VERSION && previous.models === models && previous.seed === SEED) return dir;
  }
  // A stale target/ (manifest, database) from another generator version would mislead smelter.
  rmSync(join(dir, 'target'), { recursive: true, force: true });
  generateProject(dir, { models, seed: SEED });
  return dir;
}

/**
 * Runs one child process to completion: wall time as seen from here (millisecond resolution, unlike
 * GNU time's %e) and peak RSS from GNU time's %M when it is installed. stdout is discarded, as in
 * a shell loop that redirects it; stderr is kept to explain a failure. `env` replaces the child's
 * environment (dataform-bench gives Dataform its own TMPDIR).
 */
export function timeChild(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): Sample {
  const timeFile = join(OUT, 'time.txt');
  const [file, argv] = HAVE_GNU_TIME ? [GNU_TIME, ['-f', '%e %M', '-o', timeFile, command, ...args]] : [command, args];
  const start = performance.now();
  const child = spawnSync(file, argv, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
  const seconds = (performance.now() - start) / 1000;
  if (child.error) throw child.error;
  if (child.status !== 0) {
    const stderr = child.stderr.toString().trim().split('\n').slice(-5).join('\n');
    throw new Error(`${basename(command)} ${args.join(' ')} exited with ${child.status ?? child.signal}: ${stderr}`);
  }
  if (!HAVE_GNU_TIME) return { seconds };
  const kb = Number(readFileSync(timeFile, 'utf8').trim().split(/\s+/).pop());
  return { seconds, peakRssMb: Math.round(kb / 1024) };
}

export function summarize(samples: readonly Sample[], error?: string): Measure {
  if (error !== undefined) return { samples, error };
  const rss = samples.flatMap((s) => (s.peakRssMb === undefined ? [] : [s.peakRssMb]));
  return { seconds: median(samples.map((s) => s.seconds)), peakRssMb: rss.length ? median(rss) : undefined, samples };
}

/** Takes REPEATS samples (`before` runs ahead of each, untimed); a failure becomes the measure's error rather than ending the bench. */
function measure(sample: () => Sample, before?: () => void): Measure {
  const samples: Sample[] = [];
  try {
    for (let i = 0; i < REPEATS; i++) {
      before?.();
      samples.push(sample());
    }
  } catch (error) {
    return summarize(samples, message(error));
  }
  return summarize(samples);
}

const smelter = (command: string, projectDir: string, ...flags: string[]): Sample =>
  timeChild(process.execPath, [BIN, command, '--project-dir', projectDir, ...flags]);

/** The part of target/manifest.json the direct run needs. */
interface ManifestFile {
  readonly nodes: Readonly<Record<string, { readonly original_file_path: string; readonly depends_on?: { readonly nodes?: readonly string[] } }>>;
}

/** Unique ids in dependency order (depth-first post-order, sorted for a stable order). */
function topologicalOrder(manifest: ManifestFile): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: readonly string[]): void => {
    if (state.get(id) === 'done' || !(id in manifest.nodes)) return;
    if (state.get(id) === 'visiting') throw new Error(`cycle in manifest: ${[...path, id].join(' -> ')}`);
    state.set(id, 'visiting');
    for (const dep of [...(manifest.nodes[id].depends_on?.nodes ?? [])].sort()) visit(dep, [...path, id]);
    state.set(id, 'done');
    order.push(id);
  };
  for (const id of Object.keys(manifest.nodes).sort()) visit(id, []);
  return order;
}

/**
 * The statements smelter ran, per executed node in dependency order, read from target/run/. Nodes
 * without a run file (ephemeral models, sources) executed nothing and are skipped.
 */
function loadRunStatements(projectDir: string): string[][] {
  const manifest = JSON.parse(readFileSync(join(projectDir, 'target', 'manifest.json'), 'utf8')) as ManifestFile;
  const nodes: string[][] = [];
  for (const id of topologicalOrder(manifest)) {
    const file = join(projectDir, 'target', 'run', manifest.nodes[id].original_file_path);
    if (!existsSync(file)) continue;
    const statements = readFileSync(file, 'utf8').split(';\n').map((s) => s.trim()).filter((s) => s !== '' && s !== ';');
    nodes.push(statements);
  }
  if (nodes.length === 0) throw new Error(`no run files under ${join(projectDir, 'target', 'run')}`);
  return nodes;
}

/**
 * Executes the statements in this process, one at a time, on a fresh database file with the same
 * name as smelter's (its catalog name comes from the file name and may appear in statements). The
 * clock covers what the CLI must also do: open the database, connect, execute and close. Reading
 * the files is left out: that is smelter's own work, and part of the overhead we measure.
 * Run files hold a node's transaction too (BEGIN/COMMIT around nodes of several statements), so
 * this executes exactly what smelter executed.
 */
async function runDirect(nodes: readonly (readonly string[])[]): Promise<Sample & { phases: RunPhases }> {
  const dir = join(OUT, 'direct');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  (globalThis as { gc?: () => void }).gc?.();
  const start = performance.now();
  const instance = await DuckDBInstance.create(join(dir, basename(DATABASE_PATH)));
  const connection = await instance.connect();
  const opened = performance.now();
  for (const statements of nodes) {
    for (const sql of statements) await connection.run(sql);
  }
  const executed = performance.now();
  connection.closeSync();
  instance.closeSync();
  const end = performance.now();
  return { seconds: (end - start) / 1000, phases: { startup: (opened - start) / 1000, models: (executed - opened) / 1000, finish: (end - executed) / 1000 } };
}

/**
 * Where a run's time goes: before the first model's SQL (smelter: Node, the bundle, parse, opening
 * the database; direct: opening it), from the first model's SQL to the last model's end, and after
 * (smelter: artifacts and closing the database, which checkpoints; direct: closing it).
 */
interface RunPhases {
  readonly startup: number;
  readonly models: number;
  readonly finish: number;
}

/** smelter's phases, from the process's start and end as seen here and each node's timing in target/run_results.json. */
function smelterPhases(projectDir: string, spawnedAt: number, exitedAt: number): RunPhases {
  const { results } = JSON.parse(readFileSync(join(projectDir, 'target', 'run_results.json'), 'utf8')) as {
    results: Array<{ timing: Array<{ name: string; started_at: string; completed_at: string }> }>;
  };
  const executes = results.flatMap((r) => r.timing.filter((t) => t.name === 'execute'));
  if (executes.length === 0) throw new Error('run_results.json has no execute timings');
  const first = Math.min(...executes.map((t) => Date.parse(t.started_at)));
  const last = Math.max(...executes.map((t) => Date.parse(t.completed_at)));
  return { startup: (first - spawnedAt) / 1000, models: (last - first) / 1000, finish: (exitedAt - last) / 1000 };
}

const medianPhases = (phases: readonly RunPhases[]): RunPhases => ({
  startup: median(phases.map((p) => p.startup)),
  models: median(phases.map((p) => p.models)),
  finish: median(phases.map((p) => p.finish)),
});

interface Row {
  readonly figure: string;
  readonly models?: number;
  readonly value?: string;
  readonly rss?: number;
  readonly target?: string;
  readonly met?: boolean;
  readonly error?: string;
}

function row(figure: string, models: number | undefined, m: Measure, targetSeconds?: number): Row {
  return {
    figure,
    models,
    value: m.seconds === undefined ? undefined : `${m.seconds.toFixed(3)} s`,
    rss: m.peakRssMb,
    target: targetSeconds === undefined ? undefined : `< ${targetSeconds} s`,
    met: targetSeconds === undefined || m.seconds === undefined ? undefined : m.seconds < targetSeconds,
    error: m.error,
  };
}

function markdown(rows: readonly Row[]): string {
  const lines = [
    '| figure | models | median | peak RSS | target | met |',
    '| --- | ---: | ---: | ---: | --- | --- |',
  ];
  for (const r of rows) {
    const value = r.error ? `failed: ${r.error.replace(/\s*\n\s*/g, ' / ').replace(/\|/g, '\\|')}` : (r.value ?? '');
    const met = r.met === undefined ? '' : r.met ? 'yes' : 'NO';
    lines.push(`| ${r.figure} | ${r.models?.toLocaleString('en-US') ?? ''} | ${value} | ${r.rss === undefined ? '' : `${r.rss} MB`} | ${r.target ?? ''} | ${met} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  if (!existsSync(BIN)) throw new Error(`${BIN} not found`);
  mkdirSync(OUT, { recursive: true });
  const projects = new Map(PARSE_SIZES.map((n) => [n, ensureProject(n)]));
  const runProject = projects.get(RUN_SIZE) ?? ensureProject(RUN_SIZE);
  const rows: Row[] = [];
  // Other work on the machine distorts every figure; record how busy it was when we started.
  const load = loadavg()[0];
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}`,
    loadAverage1m: load,
    gnuTime: HAVE_GNU_TIME,
    generator: { version: GENERATOR_VERSION, seed: SEED },
    repeats: REPEATS,
  };

  const startup = measure(() => timeChild(process.execPath, ['-e', '0']));
  results.nodeStartup = startup;
  rows.push(row('`node -e 0` (start-up, for calibration)', undefined, startup));
  // The pair issue 12 sets a target on: smelter's own start-up above Node's, in the same run.
  const help = measure(() => timeChild(process.execPath, [BIN, '--help']));
  results.help = help;
  const helpRow = row('`smelter --help` (start-up of every command)', undefined, help);
  const overNode = help.seconds !== undefined && startup.seconds !== undefined ? help.seconds - startup.seconds : undefined;
  rows.push({ ...helpRow, target: '≤ node -e 0 + 0.040 s', met: overNode === undefined ? undefined : overNode <= 0.04 });

  // Cold: target/ deleted before each run (the targets hold there). Warm: target/ as the previous
  // run left it, as a user's repeated invocations find it; reported apart.
  for (const command of ['ls', 'compile']) {
    const byModels: Record<number, { cold: Measure; warm: Measure }> = {};
    for (const [models, dir] of projects) {
      const cold = measure(
        () => smelter(command, dir),
        () => rmSync(join(dir, 'target'), { recursive: true, force: true }),
      );
      const warm = measure(() => smelter(command, dir));
      byModels[models] = { cold, warm };
      rows.push(row(`\`smelter ${command}\`, cold (whole process)`, models, cold, TARGET_SECONDS[command][models]));
      rows.push(row(`\`smelter ${command}\`, warm`, models, warm));
    }
    results[command] = byModels;
  }

  // Interleave the two runs so any drift in the machine's speed touches both alike.
  const smelterSamples: Sample[] = [];
  const directSamples: Sample[] = [];
  const smelterPhaseSamples: RunPhases[] = [];
  const directPhaseSamples: RunPhases[] = [];
  const runDb = join(runProject, DATABASE_PATH);
  const cleanTarget = (): void => rmSync(join(runProject, 'target'), { recursive: true, force: true });
  let runError: string | undefined;
  let executedNodes = 0;
  try {
    for (let i = 0; i < REPEATS; i++) {
      cleanTarget(); // a fresh database file, and no run files left from an earlier run
      const spawnedAt = Date.now();
      smelterSamples.push(smelter('run', runProject, '--threads', '1'));
      const exitedAt = Date.now();
      if (!existsSync(runDb)) throw new Error(`smelter run did not create ${runDb}`);
      smelterPhaseSamples.push(smelterPhases(runProject, spawnedAt, exitedAt));
      const statements = loadRunStatements(runProject);
      executedNodes = statements.length;
      const direct = await runDirect(statements);
      directSamples.push(direct);
      directPhaseSamples.push(direct.phases);
    }
  } catch (error) {
    runError = message(error);
  }
  const smelterRun = summarize(smelterSamples, runError);
  const directRun = summarize(directSamples, runError);
  rows.push(row('`smelter run --threads 1` (whole process)', RUN_SIZE, smelterRun));
  rows.push(row('same statements via @duckdb/node-api (open, connect, execute, close; in process)', RUN_SIZE, directRun));

  const perModelMs = (more: number | undefined, less: number | undefined): number | undefined =>
    more === undefined || less === undefined ? undefined : ((more - less) * 1000) / RUN_SIZE;
  const perModel = perModelMs(smelterRun.seconds, directRun.seconds);
  const perModelNoStartup = perModelMs(smelterRun.seconds, directRun.seconds === undefined || startup.seconds === undefined ? undefined : directRun.seconds + startup.seconds);
  const ms = (value: number | undefined): string | undefined => (value === undefined ? undefined : `${value.toFixed(3)} ms`);
  rows.push({ figure: 'run overhead per model: (smelter − direct) / models', models: RUN_SIZE, value: ms(perModel), target: `≤ ${RUN_OVERHEAD_TARGET_MS} ms`, met: perModel === undefined ? undefined : perModel <= RUN_OVERHEAD_TARGET_MS, error: runError && 'no run figures' });
  rows.push({ figure: 'the same, less node start-up', models: RUN_SIZE, value: ms(perModelNoStartup), error: runError && 'no run figures' });
  // Where the difference is: fixed costs before and after the models, and each model's own.
  const phases = runError ? undefined : { smelter: medianPhases(smelterPhaseSamples), direct: medianPhases(directPhaseSamples) };
  const phaseRow = (figure: string, pick: (p: RunPhases) => number, perModel = false): Row => {
    if (!phases) return { figure, error: 'no run figures' };
    const [a, b] = [pick(phases.smelter), pick(phases.direct)];
    const value = perModel ? `${ms(((a - b) * 1000) / executedNodes)} (${a.toFixed(3)} s against ${b.toFixed(3)} s)` : `${(a - b).toFixed(3)} s (${a.toFixed(3)} s against ${b.toFixed(3)} s)`;
    return { figure, models: RUN_SIZE, value };
  };
  rows.push(phaseRow('of which before the first model’s SQL (smelter: Node, bundle, parse, open; direct: open)', (p) => p.startup));
  rows.push(phaseRow('of which the models, first SQL to last model done, per executed model', (p) => p.models, true));
  rows.push(phaseRow('of which after the last model (smelter: artifacts, close; direct: close)', (p) => p.finish));
  results.run = {
    models: RUN_SIZE,
    executedNodes,
    threads: 1,
    smelter: smelterRun,
    direct: directRun,
    overheadMsPerModel: perModel,
    overheadMsPerModelLessStartup: perModelNoStartup,
    phases,
  };

  const table = markdown(rows);
  results.table = table;
  writeFileSync(join(OUT, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`smelter benchmarks — ${results.cpu}, node ${process.version}, median of ${REPEATS}, load average ${load.toFixed(2)} at start`);
  console.log(`smelter figures are whole-process wall time (node start-up included); peak RSS ${HAVE_GNU_TIME ? 'from GNU time' : 'unavailable (no /usr/bin/time)'}.\n`);
  console.log(table);
  console.log(`\nwrote ${join(OUT, 'results.json')}`);
  return rows.some((r) => r.error !== undefined) ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(message(error));
      process.exitCode = 1;
    },
  );
}
