/**
 * Every message names the real cause: the first error, not its consequences. A statement that
 * fails inside a model's transaction aborts it; whatever runs after it (a clean-up DROP, a hook)
 * is refused with "Current transaction is aborted", and that refusal must never be what the user
 * reads. Each case checks the exact message, that the run fails (exit 1's status), and that the
 * committed data and state are exactly as before.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runProject, showState, type RunResult } from '../../runtime/index.js';
import { openDuckDB } from '../../runtime/engine/duckdb-engine.js';
import { reportingFirstError } from '../../runtime/execute/first-error.js';
import { queryDuckDB } from '../helpers/duckdb.js';
import { writeTempProject } from '../helpers/temp-project.js';

const PROJECT = 'name: errs\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }\n';

/** A model that builds on its first run and fails at run time (a cast) on the next. */
const failingSecondRun = (config: string) =>
  `{{ config(${config}) }}\nselect 1 as id, {% if is_incremental() %}cast('x' as integer){% else %}2{% endif %} as v\n`;

async function run(dir: string): Promise<RunResult> {
  return (await runProject('run', { projectDir: dir, env: {} })).run;
}

const outcome = (r: RunResult) => r.results.map((x) => [x.status, x.message ?? null]);
const rows = (dir: string, relation: string) => queryDuckDB(join(dir, 'target/dev.duckdb'), `select * from ${relation} order by all`);
const state = async (dir: string) => (await showState({ projectDir: dir, env: {} })).map((s) => [s.table_name, s.version, s.rows_total]);

const CONVERSION = "Conversion Error: Could not convert string 'x' to INT32";

describe('a failure inside a model is reported as itself, not as the aborted transaction it leaves', () => {
  const cases: Record<string, string> = {
    'scd2 (database table)': "materialized='scd2', unique_key='id'",
    'scd2 (external)': "materialized='scd2', unique_key='id', external=true",
    'incremental merge (external)': "materialized='incremental', unique_key='id', external=true",
  };
  for (const [what, config] of Object.entries(cases)) {
    it(`${what}: a run-time error in the SELECT`, async () => {
      const dir = writeTempProject({ 'project.yml': PROJECT, 'models/dim.sql': failingSecondRun(config) });
      expect(outcome(await run(dir))).toEqual([['success', null]]);
      const before = { rows: await rows(dir, 'main.dim'), state: await state(dir) };
      expect(outcome(await run(dir))).toEqual([['error', `models/dim.sql: ${CONVERSION} (the statements are in target/run/models/dim.sql)`]]);
      expect({ rows: await rows(dir, 'main.dim'), state: await state(dir) }).toEqual(before);
    });
  }

  it('incremental (database table): a column type change that cannot convert the committed rows', async () => {
    const dir = writeTempProject({
      'project.yml': PROJECT,
      'models/fact.sql':
        "{{ config(materialized='incremental', unique_key='id', on_schema_change='sync_all_columns') }}\nselect {% if is_incremental() %}2 as id, 5{% else %}1 as id, 'abc'{% endif %} as v\n",
    });
    expect(outcome(await run(dir))).toEqual([['success', null]]);
    const before = { rows: await rows(dir, 'main.fact'), state: await state(dir) };
    expect(outcome(await run(dir))).toEqual([
      ['error', "models/fact.sql: Conversion Error: Could not convert string 'abc' to INT32 (the statements are in target/run/models/fact.sql)"],
    ]);
    expect({ rows: await rows(dir, 'main.fact'), state: await state(dir) }).toEqual(before);
  });

  it('scd2: a post-hook that fails is named, not the clean-up after it', async () => {
    const dir = writeTempProject({
      'project.yml': PROJECT,
      'models/dim.sql': "{{ config(materialized='scd2', unique_key='id', post_hook=\"select error('hook says no')\") }}\nselect 1 as id, 2 as v\n",
    });
    expect(outcome(await run(dir))).toEqual([
      ['error', 'models/dim.sql: Invalid Input Error: hook says no (the statements are in target/run/models/dim.sql)'],
    ]);
    expect(await state(dir)).toEqual([]);
    expect(await queryDuckDB(join(dir, 'target/dev.duckdb'), "select table_name from information_schema.tables where table_name like '%dim%'")).toEqual([]);
  });
});

describe('reportingFirstError (a connection)', () => {
  it('a statement refused because an earlier one failed throws the earlier error; ROLLBACK forgets it', async () => {
    const engine = await openDuckDB(':memory:');
    try {
      const connection = reportingFirstError(await engine.connect());
      await connection.run('BEGIN TRANSACTION');
      await connection.run('CREATE TEMP TABLE t AS SELECT 1 AS x');
      const first = await connection.run("SELECT CAST('x' AS INTEGER)").catch((e: Error) => e);
      expect(String(first)).toContain(CONVERSION);
      expect(await connection.run('DROP TABLE IF EXISTS t').catch((e: Error) => e)).toBe(first);
      expect(await connection.query('SELECT 1').catch((e: Error) => e)).toBe(first);
      await connection.run('ROLLBACK');
      expect(await connection.query('SELECT 42 AS n')).toEqual([{ n: 42 }]);
      // Outside a transaction nothing is remembered: each error is its own.
      const other = await connection.run('SELECT * FROM no_such_table').catch((e: Error) => e);
      expect(String(other)).toContain('Table with name no_such_table does not exist');
      connection.close();
    } finally {
      engine.close();
    }
  });
});
