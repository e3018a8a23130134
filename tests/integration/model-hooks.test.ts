import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runProject, type RunResult } from '../../runtime/index.js';
import { queryDuckDB } from '../helpers/duckdb.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * Model hooks as dbt runs them: pre-hooks before the model's statements, post-hooks rendered when
 * they run — after the build, inside the model's transaction — so a `run_query` in a post-hook sees
 * the rows the model just wrote. A microbatch model runs its pre-hooks with its first batch and its
 * post-hooks with its last, once per run. on-run-end hooks see the run's `results` and `schemas`.
 */

const PROJECT =
  'name: hooks\n' +
  'on-run-start: ["create table if not exists main.hook_log (model varchar, phase varchar, n bigint)"]\n' +
  'targets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n';
const SOURCES =
  'version: 2\nsources:\n  - name: raw\n    external_location: data/events.csv\n    tables:\n      - name: events\n        config:\n          event_time: ts\n';
/** A post-hook that logs how many rows `this` has when it runs. */
const COUNT_HOOK = "insert into main.hook_log values ('{{ this.identifier }}', 'post', {{ run_query('select count(*) from ' ~ this).rows[0][0] }})";
const PRE_HOOK = "insert into main.hook_log values ('{{ this.identifier }}', 'pre', null)";

function project(models: Record<string, string>): string {
  return writeTempProject({ 'project.yml': PROJECT, 'models/sources.yml': SOURCES, 'data/events.csv': 'id,ts\n', ...models });
}

function land(dir: string, rows: Array<[number, string]>): void {
  writeFileSync(join(dir, 'data/events.csv'), `id,ts\n${rows.map(([id, ts]) => `${id},${ts}`).join('\n')}\n`);
}

async function run(dir: string, extra: { runStartedAt?: Date } = {}): Promise<RunResult> {
  return (await runProject('run', { projectDir: dir, env: {}, ...extra })).run;
}

const log = (dir: string) => queryDuckDB(join(dir, 'target/dev.duckdb'), 'select model, phase, n from main.hook_log');

function config(settings: string): string {
  return `{{ config(${settings}, pre_hook="${PRE_HOOK}", post_hook="${COUNT_HOOK}") }}\n`;
}

describe('model hooks', () => {
  it('a table model: the post-hook renders after the build and counts the new rows (the table did not exist before the first run)', async () => {
    const dir = project({ 'models/events_table.sql': `${config("materialized='table'")}select id from {{ source('raw', 'events') }}\n` });
    land(dir, [[1, '2024-06-01 08:00:00'], [2, '2024-06-01 09:00:00']]);
    expect((await run(dir)).results.map((r) => [r.name, r.status])).toEqual([['events_table', 'success']]);
    land(dir, [[1, '2024-06-01 08:00:00'], [2, '2024-06-01 09:00:00'], [3, '2024-06-02 10:00:00']]);
    await run(dir);
    expect(await log(dir)).toEqual([
      { model: 'events_table', phase: 'pre', n: null },
      { model: 'events_table', phase: 'post', n: '2' },
      { model: 'events_table', phase: 'pre', n: null },
      { model: 'events_table', phase: 'post', n: '3' },
    ]);
    // The run file holds the post-hook's query and the hook as it was rendered.
    const runFile = readFileSync(join(dir, 'target/run/models/events_table.sql'), 'utf8');
    expect(runFile).toContain('select count(*) from "main"."events_table"');
    expect(runFile).toContain("insert into main.hook_log values ('events_table', 'post', 3)");
  });

  it('an incremental model: the post-hook sees the merged rows', async () => {
    const dir = project({
      'models/events_merged.sql':
        `${config("materialized='incremental', unique_key='id'")}select id, ts from {{ source('raw', 'events') }}\n` +
        '{% if is_incremental() %}where ts > (select max(ts) from {{ this }}){% endif %}\n',
    });
    land(dir, [[1, '2024-06-01 08:00:00']]);
    await run(dir);
    land(dir, [[1, '2024-06-01 08:00:00'], [2, '2024-06-02 08:00:00'], [3, '2024-06-03 08:00:00']]);
    await run(dir);
    expect((await log(dir)).filter((r) => r.phase === 'post')).toEqual([
      { model: 'events_merged', phase: 'post', n: '1' },
      { model: 'events_merged', phase: 'post', n: '3' },
    ]);
  });

  it('a microbatch model: the pre-hooks once with the first batch, the post-hooks once with the last, seeing every batch', async () => {
    const dir = project({
      'models/daily.sql':
        `${config("materialized='incremental', incremental_strategy='microbatch', event_time='day', batch_size='day', begin='2024-06-01', lookback=0")}` +
        "select cast(ts as date) as day, count(*) as events from {{ source('raw', 'events') }} group by 1\n",
    });
    land(dir, [[1, '2024-06-01 08:00:00'], [2, '2024-06-02 08:00:00'], [3, '2024-06-03 08:00:00']]);
    const result = await run(dir, { runStartedAt: new Date('2024-06-03T12:00:00Z') });
    expect(result.results.map((r) => [r.name, r.status, r.rows])).toEqual([['daily', 'success', 3]]);
    expect(await log(dir)).toEqual([
      { model: 'daily', phase: 'pre', n: null },
      { model: 'daily', phase: 'post', n: '3' },
    ]);
  });

  it('a post-hook that fails to render fails its model at the hook line, and the model keeps what it had', async () => {
    const dir = project({ 'models/events_table.sql': `${config("materialized='table'")}select id from {{ source('raw', 'events') }}\n` });
    land(dir, [[1, '2024-06-01 08:00:00']]);
    await run(dir);
    writeFileSync(
      join(dir, 'models/events_table.sql'),
      `{{ config(materialized='table', post_hook="insert into main.hook_log values ('x', 'post', {{ run_query('select count(*) from ' ~ this).rows[0][0] + no_such_name }})") }}\nselect id from {{ source('raw', 'events') }}\n`,
    );
    land(dir, [[1, '2024-06-01 08:00:00'], [2, '2024-06-02 08:00:00']]);
    const failed = await run(dir);
    expect(failed.results.map((r) => [r.name, r.status])).toEqual([['events_table', 'error']]);
    expect(failed.results[0].message).toBe("models/events_table.sql:1:106: 'no_such_name' is undefined");
    expect(await queryDuckDB(join(dir, 'target/dev.duckdb'), 'select id from main.events_table')).toEqual([{ id: '1' }]);
  });

  it('on-run-end sees the run: results (node, status, rows, failures, message) and the schemas built in', async () => {
    const dir = writeTempProject({
      'project.yml':
        'name: hooks\n' +
        'on-run-start: ["create table if not exists main.run_log (name varchar, type varchar, status varchar, n bigint, failures bigint, failed boolean)"]\n' +
        'on-run-end:\n' +
        '  - "{% for r in results %}insert into main.run_log values (\'{{ r.node.name }}\', \'{{ r.node.resource_type }}\', \'{{ r.status }}\', ' +
        "{{ r.adapter_response.rows_affected if r.adapter_response.rows_affected is defined else 'null' }}, {{ r.failures if r.failures is not none else 'null' }}, {{ 'true' if r.message else 'false' }});{% endfor %}\"\n" +
        '  - "create or replace table main.schemas_log as select \'{{ schemas | join(\',\') }}\' as schemas, \'{{ database_schemas[0] | join(\'.\') }}\' as first"\n' +
        'targets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n',
      'models/ok.sql': "{{ config(materialized='table', schema='gold') }}\nselect 1 as id union all select 2\n",
      'models/broken.sql': "{{ config(materialized='table') }}\nselect no_such_column from {{ ref('ok') }}\n",
      'models/schema.yml': 'version: 2\nmodels:\n  - name: ok\n    columns:\n      - name: id\n        data_tests: [unique, { accepted_values: { values: [1], config: { severity: warn } } }]\n',
    });
    const result = (await runProject('build', { projectDir: dir, env: {} })).run;
    expect(result.error).toBeUndefined();
    const db = join(dir, 'target/dev.duckdb');
    expect(await queryDuckDB(db, 'select * from main.run_log order by name')).toEqual([
      { name: 'accepted_values_ok_id__1', type: 'test', status: 'warn', n: null, failures: '1', failed: true },
      { name: 'broken', type: 'model', status: 'error', n: null, failures: null, failed: true },
      { name: 'ok', type: 'model', status: 'success', n: '2', failures: null, failed: false },
      { name: 'unique_ok_id', type: 'test', status: 'pass', n: null, failures: '0', failed: false },
    ]);
    expect(await queryDuckDB(db, 'select * from main.schemas_log')).toEqual([{ schemas: 'gold', first: 'dev.gold' }]);
  });
});
