/**
 * Targets (SPEC §2): the default target, --target, per-target vars, --vars over both, env_var() in a
 * target's database path, and an in-memory target that cannot keep tables. Each case asserts which
 * database file was written and what is in it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { fixtureCopier, lines, listFiles, queryDuckDB, readText, smelter, withoutTimings } from '../helpers/cli.js';

const copy = fixtureCopier('targets');

const ENV = { MULTI_PROD_DB: undefined };
const databases = (dir: string) => listFiles(join(dir, 'target')).filter((f) => f.endsWith('.duckdb'));
const greeting = (db: string) => queryDuckDB(db, 'SELECT * FROM main.greeting ORDER BY copy');

describe.concurrent('targets', () => {
  it('the default target (target: dev) with its own vars', async ({ expect }) => {
    const dir = copy();
    const run = await smelter(['run'], { projectDir: dir, env: ENV });
    expect({ code: run.code, stderr: run.stderr, stdout: withoutTimings(run.stdout) }).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        'Running 1 model with 1 thread',
        '1 of 1 OK table main.greeting .............................. [1 row in Ns]',
        'Finished 1 model in Ns: 1 OK, 0 ERROR, 0 SKIP',
      ],
    });
    expect(databases(dir)).toEqual(['dev.duckdb']);
    expect(await greeting(join(dir, 'target', 'dev.duckdb'))).toEqual([
      { greeting: 'hello from dev', target_name: 'dev', region: 'none', copy: '1' },
    ]);
  });

  it('--target prod: its database (an env_var default), its vars, --vars over a project var', async ({ expect }) => {
    const dir = copy();
    const run = await smelter(['run', '--target', 'prod', '--vars', '{copies: 2}'], { projectDir: dir, env: ENV });
    expect({ code: run.code, last: withoutTimings(run.stdout).at(-1) }).toEqual({ code: 0, last: 'Finished 1 model in Ns: 1 OK, 0 ERROR, 0 SKIP' });
    expect(databases(dir)).toEqual(['prod.duckdb']);
    expect(await greeting(join(dir, 'target', 'prod.duckdb'))).toEqual([
      { greeting: 'hello from prod', target_name: 'prod', region: 'eu', copy: '1' },
      { greeting: 'hello from prod', target_name: 'prod', region: 'eu', copy: '2' },
    ]);
  });

  it('-t prod with the env var set: the database path comes from the environment; --vars overrides target vars', async ({ expect }) => {
    const dir = copy();
    const run = await smelter(['run', '-t', 'prod', '--vars', '{greeting: hi, region: us}'], {
      projectDir: dir,
      env: { MULTI_PROD_DB: 'target/elsewhere/custom.duckdb' },
    });
    expect(run.code).toBe(0);
    expect(databases(dir)).toEqual(['elsewhere/custom.duckdb']);
    expect(await greeting(join(dir, 'target', 'elsewhere', 'custom.duckdb'))).toEqual([
      { greeting: 'hi', target_name: 'prod', region: 'us', copy: '1' },
    ]);
  });

  it('row counts print with thousands separators', async ({ expect }) => {
    const dir = copy();
    const run = await smelter(['run', '--vars', '{copies: 1250}'], { projectDir: dir, env: ENV });
    expect({ code: run.code, line: withoutTimings(run.stdout)[1] }).toEqual({
      code: 0,
      line: '1 of 1 OK table main.greeting .............................. [1,250 rows in Ns]',
    });
  });

  it('--vars may set a var only the active target declares, not one of another target', async ({ expect }) => {
    const dir = copy();
    const run = await smelter(['run', '--vars', '{region: us}'], { projectDir: dir, env: ENV });
    expect({ code: run.code, stdout: run.stdout, stderr: lines(run.stderr) }).toEqual({
      code: 2,
      stdout: '',
      stderr: ["error: --vars sets 'region', which project.yml does not declare (declare it under vars: in project.yml)"],
    });
    expect(existsSync(join(dir, 'target'))).toBe(false);
  });

  it('--vars of the wrong type', async ({ expect }) => {
    const dir = copy();
    const run = await smelter(['run', '--vars', '{copies: two}'], { projectDir: dir, env: ENV });
    expect({ code: run.code, stderr: lines(run.stderr) }).toEqual({ code: 2, stderr: ['error: --vars \'copies\' must be a number, got "two"'] });
  });

  it('an unknown --target, with a hint', async ({ expect }) => {
    const dir = copy();
    const run = await smelter(['run', '--target', 'prd'], { projectDir: dir, env: ENV });
    expect({ code: run.code, stderr: lines(run.stderr) }).toEqual({ code: 2, stderr: ["error: --target 'prd' is not defined in project.yml (did you mean prod?)"] });
  });

  it('a :memory: target refuses a table that would not outlive the process', async ({ expect }) => {
    const dir = copy();
    const run = await smelter(['run', '--target', 'mem'], { projectDir: dir, env: ENV });
    expect({ code: run.code, stdout: run.stdout, stderr: lines(run.stderr) }).toEqual({
      code: 2,
      stdout: '',
      stderr: ['error: models/greeting.sql: target mem keeps its database in memory, so table model greeting must be external (nothing else outlives the process)'],
    });
    expect(databases(dir)).toEqual([]);
  });

  it('compile renders target.name and the target vars without opening a database', async ({ expect }) => {
    const dir = copy();
    const compile = await smelter(['compile', '--target', 'prod'], { cwd: dir, env: ENV });
    expect(compile.code).toBe(0);
    expect(databases(dir)).toEqual([]);
    expect(readText(join(dir, 'target', 'compiled', 'models', 'greeting.sql'))).toBe(
      [
        '',
        'select',
        "    'hello from prod' as greeting,",
        "    'prod' as target_name,",
        "    'eu' as region,",
        '    i as copy',
        'from range(1, 1 + 1) r(i)',
        '',
      ].join('\n'),
    );
  });
});
