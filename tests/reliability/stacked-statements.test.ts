import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runProject } from '../../runtime/index.js';
import { queryDuckDB } from '../helpers/duckdb.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * A model's SQL holding a second statement (`select 1; drop table ...`) is refused before anything
 * of the model runs: DuckDB would run every statement of the string after CREATE TABLE ... AS.
 * Checked on each path a model's SQL takes: planned statements (table), a program (incremental),
 * and microbatch's per-batch render.
 */
const PROJECT = 'name: stacked\non-run-start: ["create table if not exists main.keep as select 42 as answer"]\ntargets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n';

const MODELS: Record<string, string> = {
  'models/as_table.sql': "{{ config(materialized='table') }}\nselect 1 as id;\ndrop table main.keep\n",
  'models/as_incremental.sql': "{{ config(materialized='incremental', unique_key='id') }}\nselect 1 as id; drop table main.keep;\n",
  'models/as_microbatch.sql':
    "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='day', batch_size='day', begin='2024-06-01') }}\n" +
    "select date '2024-06-01' as day; delete from main.keep\n",
  // A semicolon in a string, in a comment and at the end is one statement.
  'models/fine.sql': "{{ config(materialized='table') }}\nselect 'a;b' as s -- not; a statement\n;\n",
};

describe('a model holding more than one statement', () => {
  it('is refused with its file and the statement that follows, and nothing of it runs', async () => {
    const dir = writeTempProject({ 'project.yml': PROJECT, ...MODELS });
    const { run } = await runProject('run', { projectDir: dir, env: {}, runStartedAt: new Date('2024-06-01T12:00:00Z') });
    const byName = Object.fromEntries(run.results.map((r) => [r.name, [r.status, r.message ?? '']]));
    expect(byName).toEqual({
      as_table: ['error', 'models/as_table.sql: as_table: the rendered SQL holds more than one statement: after the \';\' on its line 2 comes "drop table main.keep" (a model is one query (a SELECT); run other statements from a pre_hook or post_hook)'],
      as_incremental: ['error', 'models/as_incremental.sql: as_incremental: the rendered SQL holds more than one statement: after the \';\' on its line 2 comes "drop table main.keep;" (a model is one query (a SELECT); run other statements from a pre_hook or post_hook)'],
      as_microbatch: ['error', 'models/as_microbatch.sql: as_microbatch: the rendered SQL holds more than one statement: after the \';\' on its line 2 comes "delete from main.keep" (a model is one query (a SELECT); run other statements from a pre_hook or post_hook)'],
      fine: ['success', ''],
    });
    const db = join(dir, 'target/dev.duckdb');
    expect(await queryDuckDB(db, 'select answer from main.keep')).toEqual([{ answer: 42 }]);
    expect(await queryDuckDB(db, 'select s from main.fine')).toEqual([{ s: 'a;b' }]);
    expect(await queryDuckDB(db, "select table_name from information_schema.tables where table_name like 'as_%'")).toEqual([]);
  });
});
