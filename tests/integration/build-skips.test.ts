/**
 * `build` skips what a failure stops, and nothing else (SPEC §8: a failed model or error test skips
 * its descendants). Exact statuses of every node, on a real DuckDB file.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runProject, type RunResult } from '../../runtime/index.js';
import { queryDuckDB } from '../helpers/duckdb.js';
import { writeTempProject } from '../helpers/temp-project.js';

const FILES = {
  'project.yml': 'name: p\ntargets:\n  dev: { database: target/dev.duckdb, threads: 2 }\n',
  'seeds/members.csv': 'id,name\n1,Ann\n2,Bob\n',
  'models/stg_members.sql': "select * from {{ ref('members') }}",
  'models/dim_member.sql': "{{ config(materialized='table') }}\nselect * from {{ ref('stg_members') }}",
};

const statuses = (run: RunResult) => run.results.map((r) => `${r.unique_id} ${r.status}${r.failures ? ` ${r.failures}` : ''}`).sort();

describe('build: what a failing test skips', () => {
  it('a failing singular test that reads no model skips nothing: every seed and model is built', async () => {
    const dir = writeTempProject({ ...FILES, 'data_tests/always_fails.sql': 'select 1 as x where true\n' });
    const { run } = await runProject('build', { projectDir: dir, env: {} });
    expect(statuses(run)).toEqual(['model.p.dim_member success', 'model.p.stg_members success', 'seed.p.members success', 'test.p.always_fails fail 1']);
    expect(await queryDuckDB(join(dir, 'target/dev.duckdb'), 'select id, name from main.dim_member order by id')).toEqual([
      { id: '1', name: 'Ann' },
      { id: '2', name: 'Bob' },
    ]);
  });

  it('a failing test of a model skips only what reads that model', async () => {
    const dir = writeTempProject({
      ...FILES,
      'models/other.sql': "select 1 as x",
      'data_tests/no_bob.sql': "select * from {{ ref('stg_members') }} where name = 'Bob'\n",
    });
    const { run } = await runProject('build', { projectDir: dir, env: {} });
    expect(statuses(run)).toEqual(['model.p.dim_member skipped', 'model.p.other success', 'model.p.stg_members success', 'seed.p.members success', 'test.p.no_bob fail 1']);
  });

  it('--fail-fast: a model running when another fails is skipped because of that failure, not reported as a failure of its own', async () => {
    const dir = writeTempProject({
      'project.yml': 'name: p\ntargets:\n  dev: { database: target/dev.duckdb, threads: 2 }\n',
      'models/a_fails.sql': "{{ config(materialized='table') }}\nselect error('boom') as x",
      // Seconds of work: still running when a_fails fails, and stopped by it.
      'models/b_slow.sql': "{{ config(materialized='table') }}\nselect count(*) as n from range(3000000000)",
      'models/c_after.sql': "select * from {{ ref('b_slow') }}",
    });
    const { run } = await runProject('run', { projectDir: dir, env: {}, failFast: true });
    expect(run.results.map((r) => [r.unique_id, r.status, r.message]).sort()).toEqual([
      ['model.p.a_fails', 'error', 'models/a_fails.sql: Invalid Input Error: boom (the statements are in target/run/models/a_fails.sql)'],
      ['model.p.b_slow', 'skipped', 'skipped because a_fails failed'],
      ['model.p.c_after', 'skipped', 'skipped because a_fails failed'],
    ]);
    expect(run.interrupted).toBe(false);
  });
});

describe('a node that reads what was never built', () => {
  it('fails naming it, not with "Table ... does not exist"; once built, the same selection succeeds', async () => {
    const dir = writeTempProject({ ...FILES, 'data_tests/named.sql': "select * from {{ ref('dim_member') }} where name is null\n" });
    const first = await runProject('run', { projectDir: dir, env: {}, select: ['dim_member'] });
    expect(first.run.results.map((r) => [r.unique_id, r.status, r.message])).toEqual([
      [
        'model.p.dim_member',
        'error',
        'models/dim_member.sql: dim_member reads stg_members, which has not been built (build it first, or select +dim_member)',
      ],
    ]);
    const test = await runProject('test', { projectDir: dir, env: {}, select: ['named'] });
    expect(test.run.results.map((r) => [r.unique_id, r.status, r.message])).toEqual([
      ['test.p.named', 'error', 'data_tests/named.sql: named reads dim_member, which has not been built (build it first)'],
    ]);
    await runProject('seed', { projectDir: dir, env: {} });
    await runProject('run', { projectDir: dir, env: {}, select: ['stg_members'] });
    expect(statuses((await runProject('run', { projectDir: dir, env: {}, select: ['dim_member'] })).run)).toEqual(['model.p.dim_member success']);
  });
});
