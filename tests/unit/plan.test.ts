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
