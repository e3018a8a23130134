import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { queryDuckDB } from '../helpers/duckdb.js';
import { runProject, showState, type RunResult } from '../../runtime/index.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * Incremental models on a real DuckDB file, run through the runtime's API. Each test lands batches
 * in data/landing.csv (a source, as new Silver files would be) and runs the project after each.
 */

const PROJECT = 'name: inc\ntargets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n';
const SOURCES = "version: 2\nsources:\n  - name: landing\n    external_location: data/landing.csv\n    tables:\n      - name: rows\n";

function project(model: string, extra: Record<string, string> = {}): string {
  return writeTempProject({ 'project.yml': PROJECT, 'models/sources.yml': SOURCES, 'models/fact.sql': model, 'data/landing.csv': 'id\n', ...extra });
}

function land(dir: string, csv: string): void {
  writeFileSync(join(dir, 'data/landing.csv'), csv);
}

async function run(dir: string, options: { fullRefresh?: boolean } = {}): Promise<RunResult> {
  const { run: result } = await runProject('run', { projectDir: dir, env: {}, ...options });
  return result;
}

const query = (dir: string, sql: string) => queryDuckDB(join(dir, 'target/dev.duckdb'), sql);

const statusOf = (r: RunResult) => r.results.map((x) => [x.name, x.status, x.rows ?? null, x.message ?? null]);

describe('incremental: append with a watermark', () => {
  const MODEL =
    "{{ config(materialized='incremental', watermark='doc_id') }}\nselect doc_id, amount from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where doc_id > {{ watermark() }}{% endif %}\n";

  it('adds only new rows over three batches and advances the watermark', async () => {
    const dir = project(MODEL);
    land(dir, 'doc_id,amount\n1,10\n2,20\n');
    expect(statusOf(await run(dir))).toEqual([['fact', 'success', 2, null]]);
    land(dir, 'doc_id,amount\n1,10\n2,20\n3,30\n');
    expect(statusOf(await run(dir))).toEqual([['fact', 'success', 1, null]]);
    land(dir, 'doc_id,amount\n1,10\n2,20\n3,30\n4,40\n5,50\n');
    expect(statusOf(await run(dir))).toEqual([['fact', 'success', 2, null]]);
    expect(await query(dir, 'select doc_id, amount from main.fact order by doc_id')).toEqual([
      { doc_id: '1', amount: '10' },
      { doc_id: '2', amount: '20' },
      { doc_id: '3', amount: '30' },
      { doc_id: '4', amount: '40' },
      { doc_id: '5', amount: '50' },
    ]);
    const [state] = await showState({ projectDir: dir, env: {} });
    expect(state).toMatchObject({
      table_name: 'main.fact',
      watermark_type: 'max_doc_id',
      watermark_data_type: 'BIGINT',
      last_processed_value: '5',
      rows_processed: 2,
      rows_total: 5,
      version: 3,
    });
  });

  it('compares the watermark as a number across a change of digit count', async () => {
    const dir = project(MODEL);
    land(dir, 'doc_id,amount\n9999998,1\n9999999,2\n');
    await run(dir);
    land(dir, 'doc_id,amount\n9999998,1\n9999999,2\n10000000,3\n');
    expect(statusOf(await run(dir))).toEqual([['fact', 'success', 1, null]]);
    expect(await showState({ projectDir: dir, env: {} })).toMatchObject([{ last_processed_value: '10000000', watermark_data_type: 'BIGINT' }]);
    expect(await query(dir, 'select count(*) as n from main.fact')).toEqual([{ n: '3' }]);
  });

  it('writes nothing when there is no new data: same rows, same state version', async () => {
    const dir = project(MODEL);
    land(dir, 'doc_id,amount\n1,10\n');
    await run(dir);
    const before = await showState({ projectDir: dir, env: {} });
    expect(statusOf(await run(dir))).toEqual([['fact', 'success', 0, null]]);
    expect(await showState({ projectDir: dir, env: {} })).toEqual(before);
  });

  it('never moves the watermark back', async () => {
    const dir = project(
      "{{ config(materialized='incremental', watermark='doc_id') }}\nselect doc_id, amount from {{ source('landing', 'rows') }}\n",
    );
    land(dir, 'doc_id,amount\n5,1\n');
    await run(dir);
    land(dir, 'doc_id,amount\n2,1\n');
    await run(dir);
    expect(await showState({ projectDir: dir, env: {} })).toMatchObject([{ last_processed_value: '5', rows_processed: 1, rows_total: 2 }]);
  });

  it('--full-refresh equals a build from scratch', async () => {
    const dir = project(MODEL);
    land(dir, 'doc_id,amount\n1,10\n');
    await run(dir);
    land(dir, 'doc_id,amount\n1,11\n2,20\n');
    await run(dir);
    await run(dir, { fullRefresh: true });
    expect(await query(dir, 'select doc_id, amount from main.fact order by doc_id')).toEqual([
      { doc_id: '1', amount: '11' },
      { doc_id: '2', amount: '20' },
    ]);
    expect(await showState({ projectDir: dir, env: {} })).toMatchObject([{ rows_processed: 2, rows_total: 2, last_processed_value: '2', version: 3 }]);
  });
});

describe('incremental: merge and delete+insert', () => {
  const model = (config: string) => `{{ config(materialized='incremental', ${config}) }}\nselect * from {{ source('landing', 'rows') }}\n`;

  for (const strategy of ['merge', 'delete+insert'] as const) {
    it(`${strategy}: updates matched keys and inserts new ones over three batches`, async () => {
      const dir = project(model(`unique_key='id', incremental_strategy='${strategy}'`));
      land(dir, 'id,status\n1,new\n2,new\n');
      await run(dir);
      land(dir, 'id,status\n2,paid\n3,new\n');
      expect(statusOf(await run(dir))).toEqual([['fact', 'success', 2, null]]);
      land(dir, 'id,status\n1,void\n4,new\n');
      await run(dir);
      expect(await query(dir, 'select id, status from main.fact order by id')).toEqual([
        { id: '1', status: 'void' },
        { id: '2', status: 'paid' },
        { id: '3', status: 'new' },
        { id: '4', status: 'new' },
      ]);
    });
  }

  it('matches a composite key on all its columns together', async () => {
    const dir = project(model("unique_key=['doc_id', 'line']"));
    land(dir, 'doc_id,line,v\n1,1,a\n1,2,b\n');
    await run(dir);
    land(dir, 'doc_id,line,v\n1,2,B\n2,1,c\n');
    await run(dir);
    expect(await query(dir, 'select doc_id, line, v from main.fact order by all')).toEqual([
      { doc_id: '1', line: '1', v: 'a' },
      { doc_id: '1', line: '2', v: 'B' },
      { doc_id: '2', line: '1', v: 'c' },
    ]);
  });

  it('a NULL key is an error naming the model and the count; nothing is committed', async () => {
    const dir = project(model("unique_key=['doc_id', 'line']"));
    land(dir, 'doc_id,line,v\n1,1,a\n');
    await run(dir);
    const before = await showState({ projectDir: dir, env: {} });
    land(dir, 'doc_id,line,v\n2,,b\n,3,c\n4,1,d\n');
    expect(statusOf(await run(dir))).toEqual([
      ['fact', 'error', null, 'models/fact.sql: fact: 2 new rows have a NULL in unique_key (doc_id, line); nothing was written'],
    ]);
    expect(await query(dir, 'select doc_id, line, v from main.fact')).toEqual([{ doc_id: '1', line: '1', v: 'a' }]);
    expect(await showState({ projectDir: dir, env: {} })).toEqual(before);
  });

  it('two new rows with one key under merge are an error naming the model and the count', async () => {
    const dir = project(model("unique_key='id'"));
    land(dir, 'id,v\n1,a\n');
    await run(dir);
    land(dir, 'id,v\n2,b\n2,c\n3,d\n3,e\n');
    expect(statusOf(await run(dir))).toEqual([
      ['fact', 'error', null, 'models/fact.sql: fact: 2 unique_key id values appear in more than one new row, so merge cannot tell which wins; nothing was written'],
    ]);
    expect(await query(dir, 'select id, v from main.fact')).toEqual([{ id: '1', v: 'a' }]);
  });
});

describe('incremental: on_schema_change', () => {
  const model = (policy: string) =>
    `{{ config(materialized='incremental', unique_key='id', on_schema_change='${policy}') }}\nselect * from {{ source('landing', 'rows') }}\n`;

  async function evolve(policy: string) {
    const dir = project(model(policy));
    land(dir, 'id,a,b\n1,x,10\n');
    await run(dir);
    land(dir, 'id,a,c\n2,y,true\n');
    return { dir, result: await run(dir) };
  }

  it('ignore: writes the existing columns, new ones dropped, missing ones NULL', async () => {
    const { dir, result } = await evolve('ignore');
    expect(statusOf(result)).toEqual([['fact', 'success', 1, null]]);
    expect(await query(dir, 'select * from main.fact order by id')).toEqual([
      { id: '1', a: 'x', b: '10' },
      { id: '2', a: 'y', b: null },
    ]);
  });

  it('fail: stops and writes nothing', async () => {
    const { dir, result } = await evolve('fail');
    expect(statusOf(result)).toEqual([
      ['fact', 'error', null, 'models/fact.sql: fact: the columns changed (new c; missing b) and on_schema_change is fail; nothing was written'],
    ]);
    expect(await query(dir, 'select * from main.fact')).toEqual([{ id: '1', a: 'x', b: '10' }]);
  });

  it('append_new_columns: adds c, keeps b', async () => {
    const { dir } = await evolve('append_new_columns');
    expect(await query(dir, 'select * from main.fact order by id')).toEqual([
      { id: '1', a: 'x', b: '10', c: null },
      { id: '2', a: 'y', b: null, c: true },
    ]);
  });

  it('sync_all_columns: adds c, drops b', async () => {
    const { dir } = await evolve('sync_all_columns');
    expect(await query(dir, 'select * from main.fact order by id')).toEqual([
      { id: '1', a: 'x', c: null },
      { id: '2', a: 'y', c: true },
    ]);
  });
});
