import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { queryDuckDB } from '../helpers/duckdb.js';
import { writeTempProject } from '../helpers/temp-project.js';

/** `smelter retry`: the last run's failed and skipped nodes, again, with its command and arguments. */
const BIN = join(import.meta.dirname, '../../bin/smelter.js');
const smelter = (dir: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args, '--project-dir', dir], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

function project(): string {
  return writeTempProject({
    'project.yml': 'name: rt\nvars:\n  factor: 1\ntargets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n',
    'models/a.sql': "{{ config(materialized='table') }}\nselect 1 as id",
    // Reads a file that lands late: the first build fails on it.
    'models/sources.yml': 'version: 2\nsources:\n  - name: landing\n    external_location: data/late.csv\n    tables:\n      - name: late\n',
    'models/late.sql': "{{ config(materialized='table') }}\nselect id, amount * {{ var('factor') }} as amount from {{ source('landing', 'late') }}",
    'models/after_late.sql': "select sum(amount) as total from {{ ref('late') }}",
    'models/schema.yml': 'version: 2\nmodels:\n  - name: late\n    columns:\n      - name: id\n        data_tests: [unique]\n',
  });
}

const resultsOf = (dir: string) =>
  (JSON.parse(readFileSync(join(dir, 'target/run_results.json'), 'utf8')) as { results: Array<{ unique_id: string; status: string }> }).results.map((r) => [r.unique_id, r.status]).sort();

describe('smelter retry', () => {
  it('reruns only what failed or was skipped, with the last command and its vars; then there is nothing to retry', async () => {
    const dir = project();
    const first = smelter(dir, 'build', '--vars', '{factor: 10}');
    expect(first.code).toBe(1);
    expect(resultsOf(dir)).toEqual([
      ['model.rt.a', 'success'],
      ['model.rt.after_late', 'skipped'],
      ['model.rt.late', 'error'],
      ['test.rt.unique_late_id', 'skipped'],
    ]);

    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'data/late.csv'), 'id,amount\n1,2\n2,3\n');
    const retried = smelter(dir, 'retry');
    expect(retried.code).toBe(0);
    expect(retried.stdout.split('\n')[0]).toBe('Retrying 3 nodes the last build left failed or skipped');
    expect(resultsOf(dir)).toEqual([
      ['model.rt.after_late', 'success'],
      ['model.rt.late', 'success'],
      ['test.rt.unique_late_id', 'pass'],
    ]);
    // The last build's vars applied: factor 10.
    expect(await queryDuckDB(join(dir, 'target/dev.duckdb'), 'select total from main.after_late')).toEqual([{ total: '50' }]);

    expect(smelter(dir, 'retry')).toMatchObject({ code: 0, stdout: 'Nothing to retry: the last build left no node failed or skipped\n' });
  });

  it('refuses when no run has written run_results.json', () => {
    const dir = project();
    const r = smelter(dir, 'retry');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: there is no run_results.json of the target path to retry');
  });
});
