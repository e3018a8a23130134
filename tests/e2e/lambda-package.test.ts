import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedBinding, checkBinding, elfMachine, packageLambda } from '../../scripts/package-lambda.js';
import { extractZip, zipEntries } from '../../scripts/zip-folder.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * `npm run package:lambda`: the zip is under Lambda's 50 MB, holds the handler bundle, DuckDB's
 * native binding and the project; unpacked into a fresh folder outside this repository and run by
 * a fresh `node` with a clean environment (as Lambda runs it), `index.handler` builds a project.
 *
 * `--arch arm64`: nothing here runs arm64 code, so the arm64 zip is checked by its files (the
 * aarch64 binding, no x64 one, the same index.js) and by a fresh `node` that believes it runs on
 * arm64: DuckDB's loader then dlopens the arm64 binding inside the unpacked folder, which an x64
 * machine refuses.
 */
const ROOT = join(import.meta.dirname, '../..');
const MAX_ZIP_BYTES = 50 * 1024 * 1024;
const X64_BINDING = 'node_modules/@duckdb/node-bindings-linux-x64/';
const ARM64_BINDING = 'node_modules/@duckdb/node-bindings-linux-arm64/';

/** Why the arm64 test cannot run: only when its binding is not cached and the npm registry is unreachable. */
const registryUnreachable = (() => {
  if (cachedBinding('arm64')) return undefined;
  const ping = spawnSync('npm', ['ping', '--fetch-retries=0'], { encoding: 'utf8', timeout: 60_000 });
  if (!ping.error && ping.status === 0) return undefined;
  const code = /npm error code (\S+)/.exec(ping.stderr ?? '')?.[1] ?? ping.error?.message ?? `exit ${ping.status}`;
  return `the npm registry is unreachable (npm ping: ${code}) and @duckdb/node-bindings-linux-arm64 is not cached in node_modules/.cache/smelter-lambda/`;
})();

/** The x64 zip, built once for both tests. */
let x64: Promise<{ zip: string; bytes: number }> | undefined;
function x64Zip() {
  x64 ??= packageLambda({ projectDir: ROOT, out: join(mkdtempSync(join(tmpdir(), 'smelter-lambda-')), 'lambda.zip') });
  return x64;
}

const PROJECT = {
  'project.yml': 'name: lam\ntargets:\n  aws: { database: target/aws.duckdb, storage: target/lake, threads: 1 }\n',
  'models/sources.yml': "version: 2\nsources:\n  - name: landing\n    external_location: data/orders.csv\n    tables:\n      - name: orders\n",
  'models/fact.sql':
    "{{ config(materialized='incremental', external=true, watermark='id', incremental_strategy='append') }}\nselect id, amount from {{ source('landing', 'orders') }}\n{% if is_incremental() %}where id > {{ watermark() }}{% endif %}\n",
  'data/orders.csv': 'id,amount\n1,5\n2,20\n',
};

/** `index.handler({ select: ['fact'] })` in a fresh node with a clean environment, after `prelude`. */
function invoke(fn: string, project: string, prelude = '') {
  return spawnSync(
    process.execPath,
    ['-e', `${prelude}require('./index.js').handler({ select: ['fact'] }).then((r) => console.log(JSON.stringify(r)), (e) => { console.log(JSON.stringify({ name: e.name, message: e.message })); process.exitCode = 1; })`],
    { cwd: fn, env: { PATH: '/usr/bin:/bin', SMELTER_PROJECT_DIR: project }, encoding: 'utf8' },
  );
}

describe('the Lambda package', () => {
  it('is a zip under 50 MB whose index.handler runs in a clean environment', async () => {
    const { zip: out, bytes } = await x64Zip();
    expect(bytes).toBeLessThan(MAX_ZIP_BYTES);
    expect(statSync(out).size).toBe(bytes);
    const entries = zipEntries(out);
    for (const required of ['index.js', 'package.json', 'project.yml', 'models/gold/fact_ptr_transactions.sql', `${X64_BINDING}duckdb.node`]) {
      expect(entries).toContain(required);
    }
    expect(entries.filter((e) => e.startsWith(ARM64_BINDING))).toEqual([]);

    // Unpacked where no node_modules of this repository can be reached.
    const fn = mkdtempSync(join(tmpdir(), 'smelter-fn-'));
    extractZip(out, fn);
    expect(elfMachine(join(fn, X64_BINDING, 'duckdb.node'))).toBe(0x3e);
    const run = invoke(fn, writeTempProject(PROJECT));
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toMatchObject({
      status: 'success',
      results: [{ unique_id: 'model.lam.fact', status: 'success', rows: 2 }],
      watermarks: { 'main.fact': '2' },
    });
  }, 120_000);

  it('--arch arm64 holds the aarch64 binding, which the same index.js loads on arm64', async ({ skip }) => {
    if (registryUnreachable) skip(registryUnreachable);
    const out = join(mkdtempSync(join(tmpdir(), 'smelter-lambda-')), 'lambda-arm64.zip');
    const { bytes } = await packageLambda({ projectDir: ROOT, out, arch: 'arm64' });
    expect(bytes).toBeLessThan(MAX_ZIP_BYTES);
    expect(statSync(out).size).toBe(bytes);
    const entries = zipEntries(out);
    expect(entries).toContain(`${ARM64_BINDING}duckdb.node`);
    expect(entries).toContain(`${ARM64_BINDING}package.json`);
    expect(entries.filter((e) => e.startsWith(X64_BINDING))).toEqual([]);
    expect(entries.filter((e) => /^node_modules\/@duckdb\//.test(e) && !e.startsWith(ARM64_BINDING))).toEqual([]);

    const fn = mkdtempSync(join(tmpdir(), 'smelter-fn-arm64-'));
    extractZip(out, fn);
    const binding = join(fn, ARM64_BINDING);
    const installed = JSON.parse(readFileSync(join(ROOT, 'node_modules/@duckdb/node-bindings-linux-x64/package.json'), 'utf8')) as { version: string };
    expect(JSON.parse(readFileSync(join(binding, 'package.json'), 'utf8'))).toMatchObject({ name: '@duckdb/node-bindings-linux-arm64', version: installed.version, cpu: ['arm64'] });
    expect(elfMachine(join(binding, 'duckdb.node'))).toBe(0xb7);
    const natives = entries.filter((e) => e.startsWith(ARM64_BINDING) && /\.(node|so)$/.test(e));
    expect(natives.length).toBeGreaterThanOrEqual(1);
    for (const native of natives) expect(elfMachine(join(fn, native)), native).toBe(0xb7);
    if (entries.includes(`${ARM64_BINDING}libduckdb.so`)) expect(elfMachine(join(binding, 'libduckdb.so'))).toBe(0xb7);

    // The same bundle as the x64 zip: the binding is chosen when the function starts, not when it is packaged.
    const x64Fn = mkdtempSync(join(tmpdir(), 'smelter-fn-x64-'));
    extractZip((await x64Zip()).zip, x64Fn);
    expect(readFileSync(join(fn, 'index.js'), 'utf8')).toBe(readFileSync(join(x64Fn, 'index.js'), 'utf8'));

    // A node that believes it is on arm64 loads @duckdb/node-bindings-linux-arm64 from the unpacked folder;
    // this x64 machine's dlopen refuses the aarch64 file (glibc says "cannot open shared object file"
    // for an ELF of another machine, although the file is there).
    const arm64Path = join(binding, 'duckdb.node');
    expect(existsSync(arm64Path)).toBe(true);
    const run = invoke(fn, writeTempProject(PROJECT), "Object.defineProperty(process, 'arch', { value: 'arm64' }); ");
    expect(run.status).toBe(1);
    const failure = JSON.parse(run.stdout) as { name: string; message: string };
    expect(failure.message).toContain(arm64Path);
    expect(failure.message).toMatch(/cannot open shared object file|wrong ELF class|Exec format error|invalid ELF header/);
    expect(failure.message).not.toContain('node-bindings-linux-x64');
  }, 180_000);

  it('refuses a binding built for another machine', () => {
    const folder = mkdtempSync(join(tmpdir(), 'smelter-binding-'));
    copyFileSync(join(ROOT, X64_BINDING, 'duckdb.node'), join(folder, 'duckdb.node'));
    expect(() => checkBinding(folder, 'x64')).not.toThrow();
    expect(() => checkBinding(folder, 'arm64')).toThrow(/duckdb\.node is ELF e_machine 0x3e, not arm64 \(0xb7\): refusing to build the zip/);
  });
});
