import { describe, expect, it } from 'vitest';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { queryDuckDB } from '../helpers/duckdb.js';
import { runProject, showState, type RunResult } from '../../runtime/index.js';
import { batchesToRun, windowsBetween, withBatch } from '../../runtime/execute/batches.js';
import { writeTempProject } from '../helpers/temp-project.js';

/** Events land in data/events.csv; the model counts them per day, batch by batch. */
const PROJECT = 'name: mb\ntargets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n';
const SOURCES =
  "version: 2\nsources:\n  - name: raw\n    external_location: data/events.csv\n    tables:\n      - name: events\n        config:\n          event_time: ts\n";
const MODEL =
  "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='day', batch_size='day', begin='2024-06-01', lookback=1) }}\n" +
  "select cast(ts as date) as day, count(*) as events from {{ source('raw', 'events') }} group by 1\n";

const at = (day: string) => new Date(`${day}T12:00:00Z`);

function project(): string {
  return writeTempProject({ 'project.yml': PROJECT, 'models/sources.yml': SOURCES, 'models/daily.sql': MODEL, 'data/events.csv': 'ts\n' });
}

function land(dir: string, timestamps: string[]): void {
  writeFileSync(join(dir, 'data/events.csv'), `ts\n${timestamps.join('\n')}\n`);
}

async function run(dir: string, now: Date, extra: { eventTimeStart?: Date; eventTimeEnd?: Date } = {}): Promise<RunResult> {
  return (await runProject('run', { projectDir: dir, env: {}, runStartedAt: now, ...extra })).run;
}

const days = (dir: string) => queryDuckDB(join(dir, 'target/dev.duckdb'), 'select day, events from main.daily order by day');

describe('microbatch', () => {
  it('builds one batch per day from begin, filters the inputs to each batch, and records the batches', async () => {
    const dir = project();
    land(dir, ['2024-06-01 08:00:00', '2024-06-01 09:00:00', '2024-06-02 10:00:00', '2024-06-03 11:00:00']);
    const result = await run(dir, at('2024-06-03'));
    expect(result.results.map((r) => [r.name, r.status, r.rows])).toEqual([['daily', 'success', 3]]);
    expect(await days(dir)).toEqual([
      { day: '2024-06-01', events: '2' },
      { day: '2024-06-02', events: '1' },
      { day: '2024-06-03', events: '1' },
    ]);
    expect(await showState({ projectDir: dir, env: {} })).toMatchObject([
      { table_name: 'main.daily', batches: [['2024-06-01T00:00:00.000Z', '2024-06-04T00:00:00.000Z']], rows_total: 3, version: 3 },
    ]);
  });

  it('a later run rebuilds only the lookback batch and the new ones; late events in old batches wait for a backfill', async () => {
    const dir = project();
    land(dir, ['2024-06-01 08:00:00', '2024-06-02 10:00:00']);
    await run(dir, at('2024-06-02'));
    // A late event for June 1 and new ones for June 2 and 3.
    land(dir, ['2024-06-01 08:00:00', '2024-06-01 23:00:00', '2024-06-02 10:00:00', '2024-06-02 11:00:00', '2024-06-03 09:00:00']);
    await run(dir, at('2024-06-03'));
    expect(await days(dir)).toEqual([
      { day: '2024-06-01', events: '1' },
      { day: '2024-06-02', events: '2' },
      { day: '2024-06-03', events: '1' },
    ]);
    await run(dir, at('2024-06-03'), { eventTimeStart: new Date('2024-06-01T00:00:00Z'), eventTimeEnd: new Date('2024-06-02T00:00:00Z') });
    expect(await days(dir)).toEqual([
      { day: '2024-06-01', events: '2' },
      { day: '2024-06-02', events: '2' },
      { day: '2024-06-03', events: '1' },
    ]);
  });

  it('batches commit on their own: a failed batch leaves a gap that the next run fills', async () => {
    const dir = writeTempProject({
      'project.yml': 'name: mb\nvars: { broken: false }\ntargets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n',
      'models/sources.yml': SOURCES,
      'models/daily.sql':
        "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='day', batch_size='day', begin='2024-06-01', lookback=0) }}\n" +
        "select cast(ts as date) as day, count(*) as events from {{ source('raw', 'events') }}\n" +
        "{% if var('broken') %}where case when cast(ts as date) = date '2024-06-02' then error('bad batch') else true end{% endif %}\ngroup by 1\n",
      'data/events.csv': 'ts\n',
    });
    land(dir, ['2024-06-01 08:00:00', '2024-06-02 10:00:00', '2024-06-03 10:00:00']);
    const failed = (await runProject('run', { projectDir: dir, env: {}, runStartedAt: at('2024-06-03'), vars: { broken: true } })).run;
    expect(failed.results.map((r) => [r.status, r.message])).toEqual([['error', 'models/daily.sql: Invalid Input Error: bad batch']]);
    expect(await showState({ projectDir: dir, env: {} })).toMatchObject([{ batches: [['2024-06-01T00:00:00.000Z', '2024-06-02T00:00:00.000Z']], rows_total: 1 }]);
    expect(await days(dir)).toEqual([{ day: '2024-06-01', events: '1' }]);
    await run(dir, at('2024-06-03'));
    expect(await days(dir)).toEqual([
      { day: '2024-06-01', events: '1' },
      { day: '2024-06-02', events: '1' },
      { day: '2024-06-03', events: '1' },
    ]);
    expect(await showState({ projectDir: dir, env: {} })).toMatchObject([{ batches: [['2024-06-01T00:00:00.000Z', '2024-06-04T00:00:00.000Z']], version: 3 }]);
  });
});

describe('microbatch on an external model', () => {
  it('writes a file set per batch; a backfill rewrites only the files holding its window', async () => {
    const dir = writeTempProject({
      'project.yml': 'name: mb\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }\n# These tests look at the files each commit leaves: superseded ones go at once.\nmodels: { +retain_superseded: 0 }\n',
      'models/sources.yml': SOURCES,
      'models/daily.sql': MODEL.replace("materialized='incremental',", "materialized='incremental', external=true,"),
      'data/events.csv': 'ts\n',
    });
    const parquet = () => (readdirSync(join(dir, 'target/lake/main/daily')) as string[]).filter((f) => f.endsWith('.parquet')).sort();
    land(dir, ['2024-06-01 08:00:00', '2024-06-02 10:00:00', '2024-06-03 11:00:00']);
    await run(dir, at('2024-06-03'));
    const first = parquet();
    expect(first).toHaveLength(3);
    land(dir, ['2024-06-01 08:00:00', '2024-06-01 09:00:00', '2024-06-02 10:00:00', '2024-06-03 11:00:00']);
    await run(dir, at('2024-06-03'), { eventTimeStart: new Date('2024-06-01T00:00:00Z'), eventTimeEnd: new Date('2024-06-02T00:00:00Z') });
    const second = parquet();
    expect(second).toHaveLength(3);
    expect(second.filter((f) => first.includes(f))).toHaveLength(2);
    expect(await days(dir)).toEqual([
      { day: '2024-06-01', events: '2' },
      { day: '2024-06-02', events: '1' },
      { day: '2024-06-03', events: '1' },
    ]);
    expect(await showState({ projectDir: dir, env: {} })).toMatchObject([{ rows_total: 3, batches: [['2024-06-01T00:00:00.000Z', '2024-06-04T00:00:00.000Z']] }]);
  });
});

describe('batch arithmetic', () => {
  it('windows, merged ranges and the batches a run builds', () => {
    expect(windowsBetween(new Date('2024-01-31T05:00:00Z'), new Date('2024-03-01T00:00:00Z'), 'month')).toEqual([
      { start: '2024-01-01T00:00:00.000Z', end: '2024-02-01T00:00:00.000Z' },
      { start: '2024-02-01T00:00:00.000Z', end: '2024-03-01T00:00:00.000Z' },
    ]);
    const d = (day: number) => ({ start: `2024-06-0${day}T00:00:00.000Z`, end: `2024-06-0${day + 1}T00:00:00.000Z` });
    const done = withBatch(withBatch(withBatch([], d(1)), d(3)), d(2));
    expect(done).toEqual([['2024-06-01T00:00:00.000Z', '2024-06-04T00:00:00.000Z']]);
    const gap = withBatch([], d(1));
    expect(batchesToRun({ begin: new Date('2024-06-01'), now: at('2024-06-03'), size: 'day', lookback: 1, done: gap })).toEqual([d(2), d(3)]);
    expect(batchesToRun({ begin: new Date('2024-06-01'), now: at('2024-06-03'), size: 'day', lookback: 1, done })).toEqual([d(2), d(3)]);
    expect(batchesToRun({ begin: new Date('2024-06-01'), now: at('2024-06-03'), size: 'day', lookback: 0, done })).toEqual([d(3)]);
  });
});
