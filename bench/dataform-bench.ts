/**
 * Issue 12's comparison: `smelter compile` against Dataform 3.0's `dataform compile` on the same
 * generated graph (generate-project.ts and generate-dataform.ts write one plan twice), in one run.
 *
 *   node dist/bench/dataform-bench.js [--models N] [--runs N]     (defaults: 1,000 models, 3 runs)
 *
 * First an untimed run of each CLI, which checks that both compiled the same actions, dependency
 * edges, materializations, tags and SQL (exit 1 on any difference, before timing anything) and warms
 * the file cache for both alike. Then `--runs` rounds, alternating which CLI goes first, each a cold
 * whole process: smelter's target/ and Dataform's temporary directory deleted before every run.
 * Prints a Markdown table; writes bench/out/dataform.json.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { generateDataformProject } from './generate-dataform.js';
import type { GeneratedDataformProject } from './generate-dataform.js';
import { GENERATOR_VERSION, MARKER_FILE } from './generate-project.js';
import { BIN, HAVE_GNU_TIME, OUT, ROOT, ensureProject, message, summarize, timeChild } from './run-bench.js';
import type { Measure, Sample } from './run-bench.js';

const SEED = 42;
const TARGET_RATIO = 30;
const DIR = join(OUT, 'dataform');
const DATAFORM_CLI = join(ROOT, 'node_modules', '@dataform', 'cli', 'bundle.js');
/**
 * Dataform's compile creates an (empty) directory in the system temporary folder on every run and
 * never removes it; a TMPDIR of our own keeps /tmp clean and is emptied before each run.
 */
const DATAFORM_TMP = join(DIR, 'tmp');
/** The CLI's default compile timeout is 60 s, which a loaded machine or --models 10000 can exceed. */
const DATAFORM_ARGS = ['compile', '--json', '--timeout', '30m'];

function parseArgs(argv: readonly string[]): { models: number; runs: number } {
  const usage = 'usage: node dist/bench/dataform-bench.js [--models N] [--runs N]';
  const values = new Map<string, number>([['--models', 1000], ['--runs', 3]]);
  for (let i = 0; i < argv.length; i += 2) {
    const value = Number(argv[i + 1]);
    if (!values.has(argv[i]) || !Number.isInteger(value) || value < 1) throw new Error(usage);
    values.set(argv[i], value);
  }
  return { models: values.get('--models') ?? 1000, runs: values.get('--runs') ?? 3 };
}

/** Regenerates the Dataform project unless one from the same generator, seed, size and core is there. */
function ensureDataformProject(models: number, core: string): string {
  const dir = join(DIR, `dataform-p${models}`);
  const marker = join(dir, MARKER_FILE);
  if (existsSync(marker)) {
    const previous = JSON.parse(readFileSync(marker, 'utf8')) as GeneratedDataformProject;
    if (previous.version === GENERATOR_VERSION && previous.models === models && previous.seed === SEED && previous.dataformCore === core) return dir;
  }
  generateDataformProject(dir, { models, seed: SEED });
  return dir;
}

const installedVersion = (pkg: string): string =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

const dataformEnv = (): NodeJS.ProcessEnv => ({ ...process.env, TMPDIR: DATAFORM_TMP });

/** Cold start for Dataform: nothing left by an earlier run (it keeps no cache in the project). */
function cleanDataform(): void {
  rmSync(DATAFORM_TMP, { recursive: true, force: true });
  mkdirSync(DATAFORM_TMP, { recursive: true });
}

/**
 * Each process's peak RSS (VmHWM) in the tree under `root`, read from /proc into `peaks`. GNU time
 * cannot see Dataform's compile worker: the CLI SIGKILLs it once it has answered and exits before
 * reaping it, so its resource usage never reaches the CLI's own.
 */
function pollTreePeaks(root: number, peaks: Map<number, number>): void {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces) are: state ppid ...
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // The process ended between the listing and the read.
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid; p > 1; p = parent.get(p) ?? 0) if (p === root) return true;
    return false;
  };
  for (const pid of parent.keys()) {
    if (!inTree(pid)) continue;
    try {
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      peaks.set(pid, Math.max(peaks.get(pid) ?? 0, kb));
    } catch {
      // Gone already; its last polled peak stands.
    }
  }
}

interface Verified {
  readonly stdout: string;
  /** Sum over the process tree of each process's peak RSS, in MB (polled every 20 ms, so a lower bound). */
  readonly treePeakMb?: number;
  readonly processes: number;
}

/** The untimed verification run: stdout kept, the process tree's peak RSS polled from /proc. */
function runCaptured(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Verified> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const peaks = new Map<number, number>();
    const canPoll = existsSync('/proc/self/status');
    const poll = (): void => {
      if (canPoll && child.pid !== undefined) pollTreePeaks(child.pid, peaks);
    };
    const timer = setInterval(poll, 20);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => {
      clearInterval(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearInterval(timer);
      if (code !== 0) {
        const stderr = Buffer.concat(err).toString().trim().split('\n').slice(-5).join('\n');
        reject(new Error(`${args.join(' ')} exited with ${code ?? signal}: ${stderr}`));
        return;
      }
      const total = [...peaks.values()].reduce((sum, kb) => sum + kb, 0);
      resolvePromise({ stdout: Buffer.concat(out).toString(), treePeakMb: canPoll ? Math.round(total / 1024) : undefined, processes: peaks.size });
    });
  });
}

/** One compiled action as both CLIs describe it, for the comparison. */
interface Action {
  readonly deps: readonly string[];
  readonly materialized: string;
  readonly tags: readonly string[];
  /** The compiled SQL with relation names unquoted and whitespace collapsed. */
  readonly sql: string;
}

const normalizeSql = (sql: string): string => sql.replace(/\s+/g, ' ').trim();

/** smelter's manifest and compiled files; `"main"."m_1_2"` becomes `m_1_2`. */
function smelterActions(projectDir: string): Map<string, Action> {
  interface Node {
    readonly resource_type: string;
    readonly name: string;
    readonly original_file_path: string;
    readonly tags?: readonly string[];
    readonly config: { readonly materialized: string };
    readonly depends_on?: { readonly nodes?: readonly string[] };
  }
  const manifest = JSON.parse(readFileSync(join(projectDir, 'target', 'manifest.json'), 'utf8')) as { nodes: Record<string, Node> };
  const actions = new Map<string, Action>();
  for (const node of Object.values(manifest.nodes)) {
    if (node.resource_type !== 'model') continue;
    const sql = readFileSync(join(projectDir, 'target', 'compiled', node.original_file_path), 'utf8');
    actions.set(node.name, {
      deps: (node.depends_on?.nodes ?? []).map((id) => id.slice(id.lastIndexOf('.') + 1)).sort(),
      materialized: node.config.materialized,
      tags: [...(node.tags ?? [])].sort(),
      sql: normalizeSql(sql.replace(/"main"\."([^"]+)"/g, '$1')),
    });
  }
  return actions;
}

/** Dataform's compiled graph (`compile --json`); `` `project.dataset.m_1_2` `` becomes `m_1_2`. */
function dataformActions(json: string): Map<string, Action> {
  interface Target {
    readonly name: string;
  }
  interface Table {
    readonly type: string;
    readonly target: Target;
    readonly query: string;
    readonly tags?: readonly string[];
    readonly dependencyTargets?: readonly Target[];
  }
  interface Graph {
    readonly tables?: readonly Table[];
    readonly operations?: readonly unknown[];
    readonly assertions?: readonly unknown[];
    readonly graphErrors?: { readonly compilationErrors?: readonly { readonly message?: string; readonly fileName?: string }[] };
  }
  const graph = JSON.parse(json) as Graph;
  const errors = graph.graphErrors?.compilationErrors ?? [];
  if (errors.length) throw new Error(`dataform compile reported ${errors.length} errors, first: ${errors[0].fileName}: ${errors[0].message}`);
  if (graph.operations?.length || graph.assertions?.length) throw new Error('dataform compile produced operations or assertions; the generated project has none');
  const actions = new Map<string, Action>();
  for (const table of graph.tables ?? []) {
    actions.set(table.target.name, {
      deps: (table.dependencyTargets ?? []).map((t) => t.name).sort(),
      materialized: table.type,
      tags: [...(table.tags ?? [])].sort(),
      sql: normalizeSql(table.query.replace(/`[^`.]+\.[^`.]+\.([^`]+)`/g, '$1')),
    });
  }
  return actions;
}

/** Every difference between the two graphs, as readable lines; none means the same models. */
function compareGraphs(smelter: ReadonlyMap<string, Action>, dataform: ReadonlyMap<string, Action>): string[] {
  const problems: string[] = [];
  for (const name of smelter.keys()) if (!dataform.has(name)) problems.push(`${name}: in smelter's manifest, not in Dataform's graph`);
  for (const name of dataform.keys()) if (!smelter.has(name)) problems.push(`${name}: in Dataform's graph, not in smelter's manifest`);
  for (const [name, s] of smelter) {
    const d = dataform.get(name);
    if (!d) continue;
    if (s.deps.join() !== d.deps.join()) problems.push(`${name}: depends on [${s.deps.join(', ')}] in smelter, [${d.deps.join(', ')}] in Dataform`);
    if (s.materialized !== d.materialized) problems.push(`${name}: ${s.materialized} in smelter, ${d.materialized} in Dataform`);
    if (s.tags.join() !== d.tags.join()) problems.push(`${name}: tags [${s.tags.join(', ')}] in smelter, [${d.tags.join(', ')}] in Dataform`);
    if (s.sql !== d.sql) problems.push(`${name}: compiled SQL differs:\n    smelter:  ${s.sql}\n    Dataform: ${d.sql}`);
  }
  return problems;
}

const edgeCount = (actions: ReadonlyMap<string, Action>): number => [...actions.values()].reduce((sum, a) => sum + a.deps.length, 0);

function markdown(models: number, smelter: Measure, dataform: Measure, ratio: number | undefined, treePeaks: { smelter?: number; dataform?: number }): string {
  const seconds = (m: Measure): string => (m.seconds === undefined ? `failed: ${(m.error ?? '').replace(/\s*\n\s*/g, ' / ').replace(/\|/g, '\\|')}` : `${m.seconds.toFixed(3)} s`);
  const samples = (m: Measure): string => m.samples.map((s) => s.seconds.toFixed(2)).join(' / ');
  const mb = (value: number | undefined): string => (value === undefined ? '' : `${value} MB`);
  const n = models.toLocaleString('en-US');
  return [
    '| figure | models | median | runs (s) | peak RSS (GNU time) | peak RSS, all processes | target | met |',
    '| --- | ---: | ---: | --- | ---: | ---: | --- | --- |',
    `| \`smelter compile\` (whole process, cold: no target/) | ${n} | ${seconds(smelter)} | ${samples(smelter)} | ${mb(smelter.peakRssMb)} | ${mb(treePeaks.smelter)} | | |`,
    `| \`dataform compile --json\` 3.0 (whole process, cold) | ${n} | ${seconds(dataform)} | ${samples(dataform)} | ${mb(dataform.peakRssMb)} | ${mb(treePeaks.dataform)} | | |`,
    `| Dataform / smelter (ratio of the medians) | ${n} | ${ratio === undefined ? '' : `${ratio.toFixed(1)}×`} | | | | ≥ ${TARGET_RATIO}× | ${ratio === undefined ? '' : ratio >= TARGET_RATIO ? 'yes' : 'NO'} |`,
  ].join('\n');
}

async function main(): Promise<number> {
  const { models, runs } = parseArgs(process.argv.slice(2));
  for (const file of [BIN, DATAFORM_CLI]) if (!existsSync(file)) throw new Error(`${file} not found (npm ci, then npm run build)`);
  mkdirSync(DIR, { recursive: true });
  const versions = { cli: installedVersion('@dataform/cli'), core: installedVersion('@dataform/core') };
  const smelterDir = ensureProject(models, join(DIR, `smelter-p${models}`));
  const dataformDir = ensureDataformProject(models, versions.core);
  const loadStart = loadavg();

  const smelterArgs = [BIN, 'compile', '--project-dir', smelterDir];
  const dataformArgs = [DATAFORM_CLI, DATAFORM_ARGS[0], dataformDir, ...DATAFORM_ARGS.slice(1)];
  const cleanSmelter = (): void => rmSync(join(smelterDir, 'target'), { recursive: true, force: true });

  // The untimed first run of each: the check that both compiled the same graph, and a warm-up.
  cleanSmelter();
  const smelterCheck = await runCaptured(process.execPath, smelterArgs);
  cleanDataform();
  const dataformCheck = await runCaptured(process.execPath, dataformArgs, dataformEnv());
  const ours = smelterActions(smelterDir);
  const theirs = dataformActions(dataformCheck.stdout);
  const problems = compareGraphs(ours, theirs);
  const check = { actions: ours.size, edges: edgeCount(ours), dataformActions: theirs.size, dataformEdges: edgeCount(theirs), differences: problems.length };
  if (ours.size !== models) problems.unshift(`smelter compiled ${ours.size} models, expected ${models}`);
  if (problems.length) {
    console.error(`smelter and Dataform did not compile the same graph (${problems.length} differences):`);
    for (const p of problems.slice(0, 20)) console.error(`  ${p}`);
    writeFileSync(join(OUT, 'dataform.json'), `${JSON.stringify({ date: new Date().toISOString(), check, problems }, null, 2)}\n`);
    return 1;
  }

  // Alternate which CLI goes first, so drift in the machine's speed touches both alike.
  const smelterSamples: Sample[] = [];
  const dataformSamples: Sample[] = [];
  let error: string | undefined;
  const timeSmelter = (): void => {
    cleanSmelter();
    smelterSamples.push(timeChild(process.execPath, smelterArgs));
  };
  const timeDataform = (): void => {
    cleanDataform();
    dataformSamples.push(timeChild(process.execPath, dataformArgs, dataformEnv()));
  };
  try {
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) {
        timeSmelter();
        timeDataform();
      } else {
        timeDataform();
        timeSmelter();
      }
    }
  } catch (e) {
    error = message(e);
  }
  const smelter = summarize(smelterSamples, error);
  const dataform = summarize(dataformSamples, error);
  const ratio = smelter.seconds !== undefined && dataform.seconds !== undefined ? dataform.seconds / smelter.seconds : undefined;
  const loadEnd = loadavg();
  const treePeaks = { smelter: smelterCheck.treePeakMb, dataform: dataformCheck.treePeakMb };
  const table = markdown(models, smelter, dataform, ratio, treePeaks);

  const results = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus()[0]?.model ?? 'unknown'} x ${cpus().length}`,
    loadAverageStart: loadStart,
    loadAverageEnd: loadEnd,
    gnuTime: HAVE_GNU_TIME,
    models,
    runs,
    seed: SEED,
    dataform: { cli: versions.cli, core: versions.core, command: `node node_modules/@dataform/cli/bundle.js ${DATAFORM_ARGS[0]} <dir> ${DATAFORM_ARGS.slice(1).join(' ')}` },
    check,
    smelterCompile: smelter,
    dataformCompile: dataform,
    ratio,
    perRunRatios: smelterSamples.map((s, i) => (dataformSamples[i] ? dataformSamples[i].seconds / s.seconds : undefined)),
    target: TARGET_RATIO,
    met: ratio === undefined ? undefined : ratio >= TARGET_RATIO,
    peakRssAllProcessesMb: { ...treePeaks, dataformProcesses: dataformCheck.processes, smelterProcesses: smelterCheck.processes },
    table,
  };
  writeFileSync(join(OUT, 'dataform.json'), `${JSON.stringify(results, null, 2)}\n`);
  const load = (l: readonly number[]): string => l.map((v) => v.toFixed(2)).join(' ');
  console.log(`smelter compile vs Dataform ${versions.cli} (core ${versions.core}) — ${results.cpu}, node ${process.version}, median of ${runs}, ` +
    `load average ${load(loadStart)} at start, ${load(loadEnd)} at end`);
  console.log(`Both compiled the same ${check.actions} models and ${check.edges} dependency edges, materializations, tags and SQL.`);
  console.log(`Whole-process wall times, cold. Peak RSS (GNU time) ${HAVE_GNU_TIME ? "misses Dataform's compile worker (killed, never reaped)" : 'unavailable (no /usr/bin/time)'}; ` +
    '"all processes" sums each process\'s peak, polled from /proc in the untimed check run.\n');
  console.log(table);
  console.log(`\nwrote ${join(OUT, 'dataform.json')}`);
  return error === undefined ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(message(error));
    process.exitCode = 1;
  },
);
