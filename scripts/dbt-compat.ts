/**
 * `npm run compat -- <dbt project dir> [--profiles-dir DIR] [--target NAME]`: how much of a real dbt
 * project smelter runs (COMPATIBILITY.md). Runs `smelter deps` and `smelter build` with the built
 * CLI, as a user would, then counts the project's enabled nodes — models, seeds, snapshots, data and
 * unit tests — by what happened to them:
 *   passed   success, pass, or warn (a test dbt would report as a warning: the build goes on)
 *   failed   error or fail, skipped (a parent failed), or never run
 * An ephemeral model is never run by itself (dbt leaves it out of run_results too): its SQL runs as
 * a CTE of the nodes that read it. It passes when one of them ran its query (success, pass, warn
 * or fail — a failing test ran the SQL) and none of them errored.
 * A project that does not parse builds nothing: every node counts as failed, and the parse errors
 * are printed. The figure is passed / enabled.
 *
 * The project is not modified beyond what deps and build write (dbt_packages/, package-lock.yml,
 * target/); the database is the profile's.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ROOT } from './repo-root.js';

interface CountedNode {
  readonly unique_id: string;
  readonly resource_type: string;
}

const args = process.argv.slice(2);
const dir = args.find((a, i) => !a.startsWith('--') && (i === 0 || !args[i - 1].startsWith('--')));
if (dir === undefined) {
  console.error('usage: npm run compat -- <dbt project dir> [--profiles-dir DIR] [--target NAME]');
  process.exit(2);
}
const projectDir = resolve(dir);
const passThrough = args.filter((a) => a !== dir);
const cli = join(ROOT, 'bin', 'smelter.js');
const smelter = (...command: string[]) => spawnSync(process.execPath, [cli, ...command, '--project-dir', projectDir, ...passThrough], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

const deps = smelter('deps');
process.stdout.write(deps.stdout);
if (deps.status !== 0) {
  process.stderr.write(deps.stderr);
  process.exit(1);
}

// The node list comes from a parse of its own (ls), so a build that stops early still has a denominator.
const listed = smelter('ls', '--output', 'json');
const nodes: CountedNode[] = listed.status === 0
  ? listed.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as CountedNode).filter((n) => n.resource_type !== 'source')
  : [];
const targetDir = join(projectDir, 'target');
rmSync(join(targetDir, 'run_results.json'), { force: true });
const started = Date.now();
const build = smelter('build');
const seconds = (Date.now() - started) / 1000;
const statuses = new Map<string, string>();
const results = join(targetDir, 'run_results.json');
if (existsSync(results)) {
  for (const r of (JSON.parse(readFileSync(results, 'utf8')) as { results: Array<{ unique_id: string; status: string; message?: string | null }> }).results) {
    statuses.set(r.unique_id, r.status);
  }
}
// Ephemeral models, and the nodes that read each one directly, from the build's manifest.
const manifestPath = join(targetDir, 'manifest.json');
if (existsSync(manifestPath)) {
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { nodes: Record<string, { config?: { materialized?: string }; depends_on?: { nodes?: string[] } }> };
  const readers = new Map<string, string[]>();
  for (const [id, node] of Object.entries(manifest.nodes)) for (const parent of node.depends_on?.nodes ?? []) readers.set(parent, [...(readers.get(parent) ?? []), id]);
  for (const [id, node] of Object.entries(manifest.nodes)) {
    if (node.config?.materialized !== 'ephemeral' || statuses.has(id)) continue;
    const seen = (readers.get(id) ?? []).map((r) => statuses.get(r));
    const ran = seen.some((s) => s === 'success' || s === 'pass' || s === 'warn' || s === 'fail');
    statuses.set(id, ran && !seen.includes('error') ? 'success' : 'not run');
  }
}
if (nodes.length === 0) {
  // Nothing parsed: say why, and count what the manifest would have held as nothing passed.
  process.stderr.write(listed.stderr);
  console.log('the project does not parse: 0 nodes passed');
  process.exit(1);
}

const byType = new Map<string, { passed: number; total: number }>();
const failures: string[] = [];
for (const node of nodes) {
  const status = statuses.get(node.unique_id) ?? 'not run';
  const ok = status === 'success' || status === 'pass' || status === 'warn';
  const counts = byType.get(node.resource_type) ?? { passed: 0, total: 0 };
  counts.total++;
  if (ok) counts.passed++;
  else failures.push(`${status.padEnd(8)} ${node.unique_id}`);
  byType.set(node.resource_type, counts);
}
const passed = [...byType.values()].reduce((n, c) => n + c.passed, 0);
for (const line of failures.sort()) console.log(line);
for (const [type, c] of [...byType].sort()) console.log(`${type.padEnd(10)} ${c.passed}/${c.total}`);
console.log(`${passed} of ${nodes.length} enabled nodes passed (${((100 * passed) / nodes.length).toFixed(1)}%); build exit ${build.status} in ${seconds.toFixed(1)} s`);
if (build.status !== 0) process.stderr.write(build.stderr.split('\n').slice(0, 40).join('\n') + '\n');
