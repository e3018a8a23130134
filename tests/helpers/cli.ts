/**
 * Shared helpers for the end-to-end tests: copy a fixture project to a scratch folder, run the built
 * `smelter` binary on it, and read what it wrote to DuckDB. The CLI must be built (`npm test` runs
 * `npm run build` first); fixtures under tests/fixtures/ are never written to.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll } from 'vitest';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES = join(REPO_ROOT, 'tests', 'fixtures');
export const BIN = join(REPO_ROOT, 'bin', 'smelter.js');
const TMP_ROOT = join(REPO_ROOT, 'tests', '.tmp');

if (!existsSync(join(REPO_ROOT, 'dist', 'adapters', 'cli', 'main.js'))) {
  throw new Error('the CLI is not built: run `npm run build` (npm test does it first)');
}

/**
 * Copy tests/fixtures/<name> to a fresh folder under tests/.tmp/ (git-ignored), or the system's
 * temporary folder when that cannot be created, and return its absolute path.
 */
export function copyFixture(name: string): string {
  const source = join(FIXTURES, name);
  if (!existsSync(source)) throw new Error(`no fixture ${name} in ${FIXTURES}`);
  let root: string;
  try {
    mkdirSync(TMP_ROOT, { recursive: true });
    root = TMP_ROOT;
  } catch {
    root = tmpdir();
  }
  const dir = mkdtempSync(join(root, `${name}-`));
  cpSync(source, dir, { recursive: true, filter: (src) => !/[\\/](target|\.tmp)$/.test(src) });
  return dir;
}

/**
 * A copier for one test file: `copy(name)` copies a fixture (`copyFixture`), and every copy is
 * removed after the file's tests.
 */
export function fixtureCopier(fixed?: string): (name?: string) => string {
  const copies: string[] = [];
  afterAll(() => copies.forEach(removeCopy));
  return (name = fixed) => {
    if (name === undefined) throw new Error('fixtureCopier: no fixture named');
    const dir = copyFixture(name);
    copies.push(dir);
    return dir;
  };
}

/** Remove a copied fixture (tests call it in afterAll). */
export function removeCopy(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface SmelterOptions {
  /** Working directory of the process (default: the repository root). */
  readonly cwd?: string;
  /** Environment variables set (a string) or removed (undefined) on top of this process's environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Appended as `--project-dir DIR`. */
  readonly projectDir?: string;
  /** Close the read end of stdout at once, as `smelter ls | head -1` does after one line. */
  readonly closeStdout?: boolean;
}

/**
 * Run `node bin/smelter.js ...args` and collect its output. Asynchronous, so the tests of a
 * `describe.concurrent` block run their processes side by side.
 */
export function smelter(args: readonly string[], opts: SmelterOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, ...(opts.env ?? {}) };
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
  const argv = [BIN, ...args, ...(opts.projectDir === undefined ? [] : ['--project-dir', opts.projectDir])];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, argv, { cwd: opts.cwd ?? REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    if (opts.closeStdout) child.stdout.destroy();
    else child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Output split into lines, without the empty string after the final newline. */
export function lines(text: string): string[] {
  const all = text.split('\n');
  if (all[all.length - 1] === '') all.pop();
  return all;
}

/**
 * Node lines and summary with the timings replaced, so they can be compared exactly:
 * `[2 rows in 0.01s]` -> `[2 rows in Ns]`, `in 0.03s:` -> `in Ns:`, `[0.00s]` -> `[Ns]`.
 */
export function withoutTimings(text: string): string[] {
  return lines(text).map((l) => l.replace(/\d+\.\d\ds\b/g, 'Ns'));
}

export { queryDuckDB } from './duckdb.js';

/** Run statements on a DuckDB file (read-write), e.g. to write a Parquet file for a source. */
export async function execDuckDB(dbPath: string, sql: string): Promise<void> {
  const instance = await DuckDBInstance.create(dbPath);
  try {
    const connection = await instance.connect();
    try {
      await connection.run(sql);
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

export function readJson<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function writeText(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** Replace exactly one occurrence of `from` in a file (throws if it is not there once). */
export function editFile(path: string, from: string, to: string): void {
  const text = readText(path);
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`editFile: '${from}' is not in ${path} exactly once`);
  writeFileSync(path, text.slice(0, at) + to + text.slice(at + from.length));
}

/** Every file under `dir`, as sorted paths relative to it. */
export function listFiles(dir: string): string[] {
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
