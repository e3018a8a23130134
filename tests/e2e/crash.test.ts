import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { COMMIT_CRASH_POINTS } from '../../runtime/execute/crash-points.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * A run killed at any point of the commit protocol, then run again, ends with exactly the rows and
 * watermark of an uninterrupted run: no duplicates, no gaps. Each named crash point must be reached
 * (the process dies by SIGKILL), or the test fails.
 */

const BIN = join(import.meta.dirname, '../../bin/smelter.js');
const PROJECT = 'name: crash\ntargets:\n  dev: { database: target/dev.duckdb, threads: 2 }\n';
const SOURCES = "version: 2\nsources:\n  - name: landing\n    external_location: data/landing.csv\n    tables:\n      - name: rows\n";
const APPEND =
  "{{ config(materialized='incremental', watermark='doc_id') }}\nselect doc_id, amount from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where doc_id > {{ watermark() }}{% endif %}\n";
const MERGE =
  "{{ config(materialized='incremental', unique_key='doc_id', watermark='doc_id') }}\nselect doc_id, amount * 2 as amount from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where doc_id > {{ watermark() }} - 1{% endif %}\n";

/**
 * Batch b lands documents 3b-2..3b, plus the previous batch's last one again (re-delivered data
 * that the watermark and merge must not duplicate). Landing holds only the latest batch, as new
 * files would: a run that lost its state and rebuilt from scratch would lose history, and a run
 * that committed state without data would skip rows — either way the final rows would differ.
 */
const batch = (b: number) => {
  const docs = Array.from({ length: b === 1 ? 3 : 4 }, (_, i) => 3 * b - (b === 1 ? 2 : 3) + i);
  return `doc_id,amount\n${docs.map((d) => `${d},${d * 10}`).join('\n')}\n`;
};

function newProject(): string {
  return writeTempProject({
    'project.yml': PROJECT,
    'models/sources.yml': SOURCES,
    'models/fact_append.sql': APPEND,
    'models/fact_merge.sql': MERGE,
    'data/landing.csv': batch(1),
  });
}

function smelterRun(dir: string, env: Record<string, string> = {}, killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'run', '--project-dir', dir], { env: { ...process.env, ...env }, stdio: 'ignore' });
    if (killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
}

async function snapshot(dir: string) {
  const instance = await DuckDBInstance.create(join(dir, 'target/dev.duckdb'));
  const connection = await instance.connect();
  const q = async (sql: string) => (await connection.run(sql)).getRowObjectsJson();
  try {
    return {
      append: await q('select doc_id, amount from main.fact_append order by doc_id'),
      merge: await q('select doc_id, amount from main.fact_merge order by doc_id'),
      state: await q('select table_name, last_processed_value, rows_total from "_smelter"."state" order by table_name'),
    };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

async function uninterrupted() {
  const dir = newProject();
  for (const b of [1, 2, 3]) {
    writeFileSync(join(dir, 'data/landing.csv'), batch(b));
    expect(await smelterRun(dir)).toEqual({ code: 0, signal: null });
  }
  return snapshot(dir);
}

describe('crash safety of incremental runs', () => {
  it('every named crash point, in the first run and in a later one, then a rerun: same rows and watermark as no crash', async () => {
    const expected = await uninterrupted();
    expect(expected.append).toHaveLength(9);
    expect(expected.state).toEqual([
      { table_name: 'main.fact_append', last_processed_value: '9', rows_total: '9' },
      { table_name: 'main.fact_merge', last_processed_value: '9', rows_total: '9' },
    ]);
    for (const point of COMMIT_CRASH_POINTS) {
      for (const crashInBatch of [1, 2]) {
        const dir = newProject();
        for (const b of [1, 2, 3]) {
          writeFileSync(join(dir, 'data/landing.csv'), batch(b));
          if (b === crashInBatch) {
            const crashed = await smelterRun(dir, { SMELTER_CRASH_AT: point });
            expect({ point, b, ...crashed }).toEqual({ point, b, code: null, signal: 'SIGKILL' });
          }
          expect({ point, b, ...(await smelterRun(dir)) }).toEqual({ point, b, code: 0, signal: null });
        }
        expect({ point, crashInBatch, ...(await snapshot(dir)) }).toEqual({ point, crashInBatch, ...expected });
      }
    }
  }, 240_000);

  it('SIGKILL at arbitrary moments, then reruns: same rows and watermark as no crash', async () => {
    const expected = await uninterrupted();
    const dir = newProject();
    // Fixed delays, so a failure reproduces: from before DuckDB opens to well into the run.
    const delays = [15, 60, 120, 180, 240, 320];
    let next = 0;
    for (const b of [1, 2, 3]) {
      writeFileSync(join(dir, 'data/landing.csv'), batch(b));
      for (let k = 0; k < 2; k++) await smelterRun(dir, {}, delays[next++]);
      expect(await smelterRun(dir)).toEqual({ code: 0, signal: null });
    }
    expect(await snapshot(dir)).toEqual(expected);
  }, 240_000);
});

describe('crash safety of microbatch runs', () => {
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  const MICRO = (external: boolean) =>
    `{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='day', batch_size='day', begin='${day(-2)}', lookback=1${external ? ', external=true' : ''}) }}\n` +
    "select cast(ts as date) as day, count(*) as events from {{ source('raw', 'events') }} group by 1\n";
  const EVENTS = `ts\n${day(-2)} 01:00:00\n${day(-1)} 01:00:00\n${day(-1)} 02:00:00\n${day(0)} 00:00:01\n`;

  function microProject(): string {
    return writeTempProject({
      'project.yml': 'name: mbc\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }\n# These tests look at the files each commit leaves: superseded ones go at once.\nmodels: { +retain_superseded: 0 }\n',
      'models/sources.yml': "version: 2\nsources:\n  - name: raw\n    external_location: data/events.csv\n    tables:\n      - name: events\n        config: { event_time: ts }\n",
      'models/daily_db.sql': MICRO(false),
      'models/daily_ext.sql': MICRO(true),
      'data/events.csv': EVENTS,
    });
  }

  async function rows(dir: string) {
    const instance = await DuckDBInstance.create(join(dir, 'target/dev.duckdb'));
    const connection = await instance.connect();
    const q = async (sql: string) => (await connection.run(sql)).getRowObjectsJson();
    try {
      return { db: await q('select * from main.daily_db order by day'), ext: await q('select * from main.daily_ext order by day') };
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  }

  it('a second run killed at every crash point, then rerun, equals an uninterrupted run', async () => {
    const reference = microProject();
    expect((await smelterRun(reference)).code).toBe(0);
    expect((await smelterRun(reference)).code).toBe(0);
    const expected = await rows(reference);
    expect(expected.db).toEqual([
      { day: day(-2), events: '1' },
      { day: day(-1), events: '2' },
      { day: day(0), events: '1' },
    ]);
    expect(expected.ext).toEqual(expected.db);
    // The second run rebuilds the last two batches (lookback 1), so the external model rewrites
    // files: every point, mid-cleanup included, is reached.
    for (const point of ['after-read', 'mid-write', 'before-state-commit', 'after-commit', 'mid-publish', 'mid-cleanup']) {
      const dir = microProject();
      expect((await smelterRun(dir)).code).toBe(0);
      // The file-moving points exist only for the external model; the others alternate between both.
      const model = ['mid-write', 'mid-publish', 'mid-cleanup'].includes(point) ? 'daily_ext' : 'daily_db';
      expect({ point, ...(await smelterRun(dir, { SMELTER_CRASH_AT: `${point}:${model}` })) }).toEqual({ point, code: null, signal: 'SIGKILL' });
      expect({ point, ...(await smelterRun(dir)) }).toEqual({ point, code: 0, signal: null });
      expect({ point, ...(await rows(dir)) }).toEqual({ point, ...expected });
    }
  }, 240_000);
});

describe('crash safety of scd2 runs', () => {
  const DIM = (external: boolean) =>
    `{{ config(materialized='scd2', unique_key='id', check_cols=['party'], valid_from_column='since', surrogate_key='sk'${external ? ', external=true' : ''}) }}\n` +
    "select id, party, since from {{ source('silver', 'members') }}\n";
  // The Silver members as they grow: a change, then a late correction of history.
  const DAYS = [
    'id,party,since\nA,Democrat,2023-01-01\nB,Republican,2023-01-01\n',
    'id,party,since\nA,Democrat,2023-01-01\nB,Republican,2023-01-01\nA,Independent,2024-01-01\n',
    'id,party,since\nA,Democrat,2023-01-01\nB,Republican,2023-01-01\nA,Independent,2024-01-01\nA,Green,2023-06-01\n',
  ];

  function dimProject(): string {
    return writeTempProject({
      'project.yml': 'name: scdc\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }\n# These tests look at the files each commit leaves: superseded ones go at once.\nmodels: { +retain_superseded: 0 }\n',
      'models/sources.yml': "version: 2\nsources:\n  - name: silver\n    external_location: data/members.csv\n    tables:\n      - name: members\n",
      'models/dim_db.sql': DIM(false),
      'models/dim_ext.sql': DIM(true),
      'data/members.csv': DAYS[0],
    });
  }

  async function dims(dir: string) {
    const instance = await DuckDBInstance.create(join(dir, 'target/dev.duckdb'));
    const connection = await instance.connect();
    const q = async (sql: string) => (await connection.run(sql)).getRowObjectsJson();
    try {
      return {
        db: await q('select * from main.dim_db order by sk'),
        ext: await q('select * from main.dim_ext order by sk'),
        state: await q('select table_name, rows_total from "_smelter"."state" order by table_name'),
      };
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  }

  it('a run killed at every crash point, then rerun, ends with the history of an uninterrupted run', async () => {
    const reference = dimProject();
    for (const csv of DAYS) {
      writeFileSync(join(reference, 'data/members.csv'), csv);
      expect((await smelterRun(reference)).code).toBe(0);
    }
    const expected = await dims(reference);
    expect(expected.db.map((r) => `${r.sk} ${r.id} ${r.party} ${r.valid_from} ${r.valid_to}`)).toEqual([
      '1 A Democrat 2023-01-01 2023-05-31',
      '2 B Republican 2023-01-01 9999-12-31',
      '3 A Independent 2024-01-01 9999-12-31',
      '4 A Green 2023-06-01 2023-12-31',
    ]);
    expect(expected.ext).toEqual(expected.db);
    for (const point of ['after-read', 'mid-write', 'before-state-commit', 'after-commit', 'mid-publish', 'mid-cleanup']) {
      for (const model of point.startsWith('mid-p') || point.startsWith('mid-c') ? ['dim_ext'] : ['dim_db', 'dim_ext']) {
        const dir = dimProject();
        expect((await smelterRun(dir)).code).toBe(0);
        writeFileSync(join(dir, 'data/members.csv'), DAYS[1]);
        expect({ point, model, ...(await smelterRun(dir, { SMELTER_CRASH_AT: `${point}:${model}` })) }).toEqual({ point, model, code: null, signal: 'SIGKILL' });
        expect({ point, model, ...(await smelterRun(dir)) }).toEqual({ point, model, code: 0, signal: null });
        writeFileSync(join(dir, 'data/members.csv'), DAYS[2]);
        expect({ point, model, ...(await smelterRun(dir)) }).toEqual({ point, model, code: 0, signal: null });
        expect({ point, model, ...(await dims(dir)) }).toEqual({ point, model, ...expected });
      }
    }
  }, 180_000);
});
