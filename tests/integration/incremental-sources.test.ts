import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { queryDuckDB } from '../helpers/duckdb.js';
import { runProject, showState, type RunResult } from '../../runtime/index.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * `incremental_sources: new` on local storage (the same code serves S3; tests/integration/aws-gold
 * runs it there): an incremental run reads only the source files it has not processed, the set
 * commits with the model's file set in chunks, and the rules that keep it exact are enforced.
 */

const PROJECT = 'name: isrc\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }\n';
const SOURCES =
  'version: 2\nsources:\n  - name: landing\n    external_location: data/landing/*.csv\n    tables:\n      - name: rows\n        columns:\n          - { name: id, data_type: INTEGER }\n          - { name: amount, data_type: INTEGER }\n';
const MODEL =
  "{{ config(materialized='incremental', external=true, unique_key='id', incremental_sources='new', watermark='id') }}\nselect id, amount from {{ source('landing', 'rows') }}\n";

function project(model = MODEL): string {
  return writeTempProject({ 'project.yml': PROJECT, 'models/sources.yml': SOURCES, 'models/fact.sql': model });
}

/** One source file (a new Silver object, as it were). */
function land(dir: string, file: string, rows: ReadonlyArray<readonly [number, number]>): void {
  mkdirSync(join(dir, 'data/landing'), { recursive: true });
  writeFileSync(join(dir, 'data/landing', file), `id,amount\n${rows.map((r) => r.join(',')).join('\n')}\n`);
}

async function run(dir: string, options: { fullRefresh?: boolean } = {}): Promise<{ run: RunResult; warnings: string[] }> {
  const warnings: string[] = [];
  const { run: result } = await runProject('run', { projectDir: dir, env: {}, onWarning: (w) => warnings.push(w), ...options });
  return { run: result, warnings };
}

const statusOf = (r: RunResult) => r.results.map((x) => [x.name, x.status, x.rows ?? null, x.message ?? null]);
const rows = (dir: string) => queryDuckDB(join(dir, 'target/dev.duckdb'), 'select id, amount from main.fact order by id');

/** The processed-set chunk keys of the model's committed manifest. */
async function chunks(dir: string): Promise<Record<string, string>> {
  const [state] = await showState({ projectDir: dir, env: {} });
  const manifest = JSON.parse(readFileSync(join(dir, 'target/lake', state.manifest_pointer!), 'utf8')) as { processed: Record<string, Record<string, string>> };
  return manifest.processed['source.isrc.landing.rows'];
}

describe('incremental_sources: new', () => {
  it('reads only new files; the set commits in chunks, of which a run rewrites only those it changed', async () => {
    const dir = project();
    const mk = (file: string, r: ReadonlyArray<readonly [number, number]>) => land(dir, file, r);
    mk('a.csv', [[1, 10], [2, 20]]);
    mk('b.csv', [[3, 30]]);
    expect(statusOf((await run(dir)).run)).toEqual([['fact', 'success', 3, null]]);
    const first = await chunks(dir);
    for (const key of Object.values(first)) expect(key).toMatch(/^\.smelter\/processed\/main\.fact\/source\.isrc\.landing\.rows\/\d+-v1\.json$/);
    const entries = async (set: Record<string, string>) =>
      Object.assign({}, ...Object.values(set).map((key) => JSON.parse(readFileSync(join(dir, 'target/lake', key), 'utf8')) as Record<string, string>));
    expect(Object.keys(await entries(first)).sort()).toEqual([join(dir, 'data/landing/a.csv'), join(dir, 'data/landing/b.csv')]);

    // One new file: one row read, one chunk rewritten (under a new key), the others kept.
    mk('c.csv', [[4, 40]]);
    expect(statusOf((await run(dir)).run)).toEqual([['fact', 'success', 1, null]]);
    const second = await chunks(dir);
    const changed = Object.keys(second).filter((k) => second[k] !== first[k]);
    expect(changed).toHaveLength(1);
    expect(second[changed[0]]).toMatch(/^\.smelter\/processed\/main\.fact\/source\.isrc\.landing\.rows\/\d+-v2\.json$/);
    for (const k of Object.keys(first).filter((k) => k !== changed[0])) expect(second[k]).toBe(first[k]);
    expect(Object.keys(await entries(second)).sort()).toEqual(['a.csv', 'b.csv', 'c.csv'].map((f) => join(dir, 'data/landing', f)));

    // Nothing new: nothing read, nothing committed.
    expect(statusOf((await run(dir)).run)).toEqual([['fact', 'success', 0, null]]);
    expect(await chunks(dir)).toEqual(second);

    // A rewritten file is new again: its rows are merged (no duplicates), the changed amount wins.
    mk('a.csv', [[1, 11], [2, 20], [5, 50]]);
    expect(statusOf((await run(dir)).run)).toEqual([['fact', 'success', 3, null]]);
    expect(await rows(dir)).toEqual([
      { id: '1', amount: '11' },
      { id: '2', amount: '20' },
      { id: '3', amount: '30' },
      { id: '4', amount: '40' },
      { id: '5', amount: '50' },
    ]);
    const [state] = await showState({ projectDir: dir, env: {} });
    expect(state.last_processed_value).toBe('5');

    // A deleted file leaves the set with a warning; its rows stay.
    rmSync(join(dir, 'data/landing/b.csv'));
    const afterDelete = await run(dir);
    expect(afterDelete.warnings).toEqual([`fact: ${join(dir, 'data/landing/b.csv')} was processed before and is gone from source landing.rows; it leaves the processed set`]);
    expect(await rows(dir)).toHaveLength(5);

    // --full-refresh reads every file again and replaces the set.
    const full = await run(dir, { fullRefresh: true });
    expect(statusOf(full.run)).toEqual([['fact', 'success', 4, null]]);
    expect(await rows(dir)).toEqual([
      { id: '1', amount: '11' },
      { id: '2', amount: '20' },
      { id: '4', amount: '40' },
      { id: '5', amount: '50' },
    ]);
  });

  it('a source with no new files reads as no rows of its declared columns', async () => {
    const dir = project("{{ config(materialized='incremental', external=true, unique_key='id', incremental_sources='new') }}\nselect id, amount, amount * 2 as twice from {{ source('landing', 'rows') }}\n");
    land(dir, 'a.csv', [[1, 10]]);
    expect(statusOf((await run(dir)).run)).toEqual([['fact', 'success', 1, null]]);
    expect(statusOf((await run(dir)).run)).toEqual([['fact', 'success', 0, null]]);
  });

  it('refuses what would lose or double rows, naming the file and key', async () => {
    const cases: Array<[string, string]> = [
      ["{{ config(materialized='table', external=true, incremental_sources='new') }}\nselect 1 as id\n", 'incremental_sources: new is for incremental and scd2 models, not table'],
      ["{{ config(materialized='incremental', external=true, incremental_sources='new') }}\nselect 1 as id\n", 'incremental_sources: new needs a unique_key on an append model'],
      ["{{ config(materialized='incremental', unique_key='id', incremental_sources='new') }}\nselect 1 as id\n", 'incremental_sources: new needs external: true'],
      [
        "{{ config(materialized='scd2', external=true, unique_key='id', check_cols=['amount'], hard_deletes='invalidate', incremental_sources='new') }}\nselect 1 as id, 2 as amount\n",
        'incremental_sources: new cannot be combined with hard_deletes: invalidate',
      ],
      [
        "{{ config(materialized='incremental', external=true, incremental_strategy='microbatch', event_time='ts', batch_size='day', begin='2024-01-01', incremental_sources='new') }}\nselect 1 as id\n",
        'incremental_sources: new is not for microbatch models',
      ],
    ];
    for (const [model, message] of cases) {
      const dir = project(model);
      await expect(runProject('run', { projectDir: dir, env: {} })).rejects.toThrow(message);
    }
  });

  it('watermark() in such a model is an error naming the file and line', async () => {
    const dir = project(`${MODEL.trimEnd()}\n{% if is_incremental() %}where id > {{ watermark() }}{% endif %}\n`);
    land(dir, 'a.csv', [[1, 10]]);
    expect(statusOf((await run(dir)).run)).toEqual([['fact', 'success', 1, null]]);
    const [[name, status, , message]] = statusOf((await run(dir)).run);
    expect([name, status]).toEqual(['fact', 'error']);
    expect(message).toMatch(/^models\/fact\.sql:3:\d+: watermark\(\) cannot be used with incremental_sources: new/);
  });
});
