import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { queryDuckDB } from '../helpers/duckdb.js';
import { ProjectError, Session, runProject, type RunResult } from '../../runtime/index.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * A Session keeps the parsed project and the DuckDB instance between runs (what a warm Lambda
 * reuses). Its runs must leave exactly what one-off runs leave.
 */

const PROJECT =
  'name: warm\nvars:\n  factor: 1\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }\n  other: { database: target/other.duckdb, threads: 1 }\n';
const SOURCES = "version: 2\nsources:\n  - name: landing\n    external_location: data/landing.csv\n    tables:\n      - name: rows\n";
const FACT =
  "{{ config(materialized='incremental', watermark='doc_id') }}\nselect doc_id, amount * {{ var('factor') }} as amount from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where doc_id > {{ watermark() }}{% endif %}\n";
const LAKE_FACT =
  "{{ config(materialized='incremental', external=true, watermark='doc_id') }}\nselect doc_id, amount from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where doc_id > {{ watermark() }}{% endif %}\n";

function project(): string {
  return writeTempProject({
    'project.yml': PROJECT,
    'models/sources.yml': SOURCES,
    'models/fact.sql': FACT,
    'models/lake_fact.sql': LAKE_FACT,
    'data/landing.csv': 'doc_id,amount\n1,10\n2,20\n',
  });
}

const land = (dir: string, csv: string) => writeFileSync(join(dir, 'data/landing.csv'), csv);
const statusOf = (r: RunResult) => r.results.map((x) => [x.name, x.status, x.rows ?? null]);
const rowsOf = (dir: string, relation: string, database = 'dev') =>
  queryDuckDB(join(dir, `target/${database}.duckdb`), `select doc_id, amount from ${relation} order by doc_id`);

describe('Session', () => {
  it('runs incremental days on one open database and leaves what one-off runs leave', async () => {
    const warm = project();
    const cold = project();
    const session = new Session({ projectDir: warm, env: {} });
    try {
      for (const day of ['doc_id,amount\n1,10\n2,20\n', 'doc_id,amount\n1,10\n2,20\n3,30\n', 'doc_id,amount\n1,10\n2,20\n3,30\n4,40\n5,50\n']) {
        land(warm, day);
        land(cold, day);
        const { run: warmRun } = await session.run('run');
        const { run: coldRun } = await runProject('run', { projectDir: cold, env: {} });
        expect(statusOf(warmRun)).toEqual(statusOf(coldRun));
      }
      // No new data: nothing to add.
      expect(statusOf((await session.run('run')).run)).toEqual([
        ['fact', 'success', 0],
        ['lake_fact', 'success', 0],
      ]);
    } finally {
      await session.close();
    }
    const expected = [
      { doc_id: '1', amount: '10' },
      { doc_id: '2', amount: '20' },
      { doc_id: '3', amount: '30' },
      { doc_id: '4', amount: '40' },
      { doc_id: '5', amount: '50' },
    ];
    expect(await rowsOf(warm, 'main.fact')).toEqual(expected);
    expect(await rowsOf(warm, 'main.lake_fact')).toEqual(expected);
    expect(await rowsOf(cold, 'main.lake_fact')).toEqual(expected);
  });

  it('serializes runs asked for at the same time', async () => {
    const dir = project();
    const session = new Session({ projectDir: dir, env: {} });
    try {
      const [first, second] = await Promise.all([session.run('run', { select: ['fact'] }), session.run('run', { select: ['fact'] })]);
      expect(statusOf(first.run)).toEqual([['fact', 'success', 2]]);
      expect(statusOf(second.run)).toEqual([['fact', 'success', 0]]);
    } finally {
      await session.close();
    }
  });

  it('parses once per target and vars: each run gets its own', async () => {
    const dir = project();
    const session = new Session({ projectDir: dir, env: {} });
    try {
      await session.run('run', { select: ['fact'], vars: { factor: 3 } });
      await session.run('run', { select: ['fact'], target: 'other' });
      land(dir, 'doc_id,amount\n1,10\n2,20\n3,30\n');
      await session.run('run', { select: ['fact'] });
    } finally {
      await session.close();
    }
    expect(await rowsOf(dir, 'main.fact')).toEqual([
      { doc_id: '1', amount: '30' },
      { doc_id: '2', amount: '60' },
      { doc_id: '3', amount: '30' },
    ]);
    expect(await rowsOf(dir, 'main.fact', 'other')).toEqual([
      { doc_id: '1', amount: '10' },
      { doc_id: '2', amount: '20' },
    ]);
  });

  it('reports a bad run and goes on with the next; a closed session refuses runs', async () => {
    const dir = project();
    const session = new Session({ projectDir: dir, env: {} });
    await expect(session.run('run', { target: 'prod' })).rejects.toThrow(ProjectError);
    await expect(session.run('run', { vars: { factor: 'x' } })).rejects.toThrow(/factor/);
    expect(statusOf((await session.run('run', { select: ['fact'] })).run)).toEqual([['fact', 'success', 2]]);
    await session.close();
    await expect(session.run('run')).rejects.toThrow('this session is closed');
  });
});
