import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { queryDuckDB } from '../helpers/duckdb.js';
import { writeTempProject } from '../helpers/temp-project.js';

const BIN = join(import.meta.dirname, '../../bin/smelter.js');
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.length = 0;
});

function start(args: string[]): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => text, exit };
}

const PROJECT = "name: p\nvars:\n  slow: false\ntargets:\n  dev: { database: target/dev.duckdb, threads: 2 }\n";
// With slow=true the model takes far longer than the test: only an interrupt can end it.
const MODEL =
  "{{ config(materialized='table') }}\n{% if var('slow') %}select count(*) as n from range(100000000000) a(i) where i % 7 = 3{% else %}select 42 as n{% endif %}";

describe('interrupt and lock', () => {
  it('Ctrl-C interrupts a running model, exits 130 and leaves the old table as it was', async () => {
    const dir = writeTempProject({ 'project.yml': PROJECT, 'models/big.sql': MODEL });
    const first = start(['run', '--project-dir', dir]);
    expect(await first.exit).toBe(0);

    const run = start(['run', '--project-dir', dir, '--vars', '{slow: true}']);
    const began = Date.now();
    while (!run.output().includes('Running 1 model') && Date.now() - began < 10_000) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    run.child.kill('SIGINT');
    expect(await run.exit).toBe(130);
    expect(run.output()).toContain('interrupting: rolling back running models');
    expect(run.output()).toContain('1 of 1 ERROR table main.big');
    expect(await queryDuckDB(join(dir, 'target/dev.duckdb'), 'select n from main.big')).toEqual([{ n: 42 }]);
  });

  it('a database held by another process is exit 3, naming the holder', async () => {
    const dir = writeTempProject({ 'project.yml': PROJECT, 'models/m.sql': 'select 1 as x' });
    const db = join(dir, 'target/dev.duckdb');
    expect(await start(['run', '--project-dir', dir]).exit).toBe(0);
    const holder = spawn(process.execPath, [
      '--input-type=module',
      '-e',
      `import { DuckDBInstance } from '@duckdb/node-api'; const i = await DuckDBInstance.create(${JSON.stringify(db)}); await i.connect(); console.log('held'); setInterval(() => {}, 1000);`,
    ], { cwd: join(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(holder);
    await new Promise<void>((resolve) => holder.stdout!.on('data', () => resolve()));
    const run = start(['run', '--project-dir', dir]);
    expect(await run.exit).toBe(3);
    expect(run.output()).toBe(
      `error: the database ${db} is locked by another process: ${process.execPath} (PID ${holder.pid}) (wait for that run to finish, or stop it)\n`,
    );
  });
});
