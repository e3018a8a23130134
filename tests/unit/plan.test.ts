import { describe, expect, it } from 'vitest';
import { loadProject } from '../../runtime/project/load-project.js';
import { parseProject } from '../../runtime/parse/parse-project.js';
import { planRun } from '../../runtime/plan/plan.js';
import { writeTempProject } from '../helpers/temp-project.js';

function setup(files: Record<string, string>, database = 'target/dev.duckdb') {
  const dir = writeTempProject({ 'project.yml': `name: p\ntargets:\n  dev: { database: "${database}" }\n`, ...files });
  const project = loadProject(dir, { env: {} });
  const { manifest, dag } = parseProject(project, { env: {} });
  return { manifest, dag, target: project.config.target };
}

const CHAIN = {
  'models/a.sql': "{{ config(materialized='table', schema='raw') }}select 1 as id",
  'models/b.sql': "select * from {{ ref('a') }}",
  'models/e.sql': "{{ config(materialized='ephemeral') }}select * from {{ ref('b') }}",
  'models/c.sql': "{{ config(schema='marts') }}select * from {{ ref('e') }}",
};

describe('planRun', () => {
  it('waits for planned ancestors through unselected and ephemeral nodes, and lists the schemas', () => {
    const { manifest, dag, target } = setup(CHAIN);
    const plan = planRun(manifest, dag, new Set(['model.p.a', 'model.p.c', 'model.p.e']), target);
    expect(plan).toEqual({
      nodes: ['model.p.a', 'model.p.c'],
      parents: { 'model.p.a': [], 'model.p.c': ['model.p.a'] },
      schemas: ['marts', 'raw'],
    });
  });

  it('build: a node waits for the tests of what it reads, also through a source; never for a test that reads its descendant', () => {
    const { manifest, dag, target } = setup({
      'models/sources.yml':
        'version: 2\nsources:\n  - name: raw\n    tables:\n      - name: t\n        columns:\n          - { name: id, data_tests: [not_null] }\n',
      'models/schema.yml':
        "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: id\n        data_tests: [unique, { relationships: { to: \"ref('c')\", field: id } }]\n  - name: b\n    columns:\n      - name: id\n        data_tests: [unique, { relationships: { to: \"ref('a')\", field: id } }]\n",
      'models/a.sql': "select id from {{ source('raw', 't') }}",
      'models/b.sql': "select * from {{ ref('a') }}",
      'models/c.sql': "select * from {{ ref('b') }}",
      'models/d.sql': "select * from {{ ref('c') }}",
    });
    const plan = planRun(manifest, dag, new Set(Object.keys(manifest.nodes)), target);
    const waits = (id: string) => [...plan.parents[id]].sort();
    expect(waits('model.p.a')).toEqual(['test.p.source_not_null_raw_t_id']);
    expect(waits('model.p.b')).toEqual(['model.p.a', 'test.p.unique_a_id']);
    // c waits for b's tests, among them the relationships test reading b and a (both its ancestors),
    // but not for the one on a that reads c itself.
    expect(waits('model.p.c')).toEqual(['model.p.b', 'test.p.relationships_b_id__id__ref_a_', 'test.p.unique_b_id']);
    expect(waits('model.p.d')).toEqual(['model.p.c', 'test.p.relationships_a_id__id__ref_c_', 'test.p.relationships_b_id__id__ref_a_']);
  });

  it('build: a test that reads no node is waited for by nothing (dbt gives it no parents, so nothing downstream)', () => {
    const { manifest, dag, target } = setup({
      'seeds/s.csv': 'id\n1\n',
      'models/a.sql': "select * from {{ ref('s') }}",
      'models/b.sql': "select * from {{ ref('a') }}",
      'data_tests/constant.sql': 'select 1 as x where true',
      'data_tests/on_a.sql': "select * from {{ ref('a') }} where id is null",
    });
    const plan = planRun(manifest, dag, new Set(Object.keys(manifest.nodes)), target);
    expect(plan.parents).toEqual({
      'seed.p.s': [],
      'model.p.a': ['seed.p.s'],
      'model.p.b': ['model.p.a', 'test.p.on_a'],
      'test.p.constant': [],
      'test.p.on_a': ['model.p.a'],
    });
  });

  it('plans external tables and external incremental models', () => {
    const { manifest, dag, target } = setup({
      'models/x.sql': "{{ config(materialized='table', external=true) }}select 1",
      'models/y.sql': "{{ config(materialized='incremental', external=true) }}select 1",
    });
    expect(planRun(manifest, dag, new Set(['model.p.x', 'model.p.y']), target).nodes).toEqual(['model.p.x', 'model.p.y']);
  });

  it('on an in-memory target, a table must be external', () => {
    const { manifest, dag, target } = setup({ 'models/t.sql': "{{ config(materialized='table') }}select 1", 'models/v.sql': 'select 1' }, ':memory:');
    expect(planRun(manifest, dag, new Set(['model.p.v']), target).nodes).toEqual(['model.p.v']);
    expect(() => planRun(manifest, dag, new Set(['model.p.t']), target)).toThrow(
      'target dev keeps its database in memory, so table model t must be external (nothing else outlives the process)',
    );
    const external = setup({ 'models/x.sql': "{{ config(materialized='table', external=true) }}select 1" }, ':memory:');
    expect(() => planRun(external.manifest, external.dag, new Set(['model.p.x']), external.target)).toThrow(
      'target dev keeps its database in memory, so the state of x cannot be local (it would not outlive the process): use the dynamodb backend',
    );
  });
});
