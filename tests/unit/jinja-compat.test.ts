import { describe, expect, it } from 'vitest';
import { loadProject } from '../../runtime/project/load-project.js';
import { parseProject } from '../../runtime/parse/parse-project.js';
import { renderModel } from '../../runtime/render/render-model.js';
import type { ModelNode } from '../../runtime/manifest/types.js';
import { writeTempProject } from '../helpers/temp-project.js';
import { smelterInProcess } from '../helpers/cli-in-process.js';

const PROJECT = `name: shop
vars:
  region: eu
targets:
  dev: { database: ':memory:' }
`;

function parse(files: Record<string, string>) {
  const dir = writeTempProject({ 'project.yml': PROJECT, ...files });
  const project = loadProject(dir, { env: {} });
  return { dir, project, ...parseProject(project, { env: {} }) };
}

function rendered(files: Record<string, string>, name: string): { sql: string; fastPath: boolean } {
  const { project, manifest, templates } = parse(files);
  expect(manifest.diagnostics ?? []).toEqual([]);
  const node = manifest.nodes[`model.shop.${name}`] as ModelNode;
  const sql = renderModel(node, { manifest, project, templates, env: {}, runStartedAt: new Date(0), invocationId: 'i' });
  return { sql, fastPath: node.fast_path !== undefined };
}

describe("Python's % formatting in a model", () => {
  it('renders through the template engine, and a % in SQL text stays on the fast path as written', () => {
    const files = {
      'models/a.sql': 'select 1 as id',
      'models/fmt.sql': `select '{{ "%s_%03d" % (var('region'), 7) }}' as k, {{ "%.2f" % 2.345 }} as x, '{{ "%d%%" % 50 }}' as p from {{ ref('a') }}`,
      'models/plain.sql': "select 10 % 3 as m, 'a%' as p from {{ ref('a') }}",
    };
    expect(rendered(files, 'fmt')).toEqual({ sql: `select 'eu_007' as k, 2.35 as x, '50%' as p from "main"."a"`, fastPath: false });
    expect(rendered(files, 'plain')).toEqual({ sql: `select 10 % 3 as m, 'a%' as p from "main"."a"`, fastPath: true });
  });
});

const SNAPSHOT = `-- history of orders
{% snapshot orders_snapshot %}
{{ config(target_schema='snapshots', unique_key='id', strategy='timestamp', updated_at='updated_at') }}
select * from {{ ref('a') }}
{% endsnapshot %}
`;
const HINT = " (a model with materialized='scd2' keeps the same history: see the README, SCD Type 2 dimensions)\n";

describe('dbt snapshots', () => {
  it('a snapshots/ folder is one error naming the file and the line of the block, exit code 2', async () => {
    const dir = writeTempProject({ 'project.yml': PROJECT, 'models/a.sql': 'select 1 as id', 'snapshots/orders_snapshot.sql': SNAPSHOT });
    const result = await smelterInProcess(dir, 'compile');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`error: snapshots/orders_snapshot.sql:2:1: snapshots are not supported yet: {% snapshot orders_snapshot %}${HINT}`);
  });

  it('a snapshot block in a model or macro file is the same error there', async () => {
    const dir = writeTempProject({
      'project.yml': PROJECT,
      'models/a.sql': 'select 1 as id',
      'models/orders_snapshot.sql': SNAPSHOT,
      'macros/snap.sql': `{% macro m() %}1{% endmacro %}\n\n  {%- snapshot  kept %}select 1{% endsnapshot %}`,
    });
    const result = await smelterInProcess(dir, 'compile');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `error: macros/snap.sql:3:3: snapshots are not supported yet: {% snapshot kept %}${HINT}` +
        `error: models/orders_snapshot.sql:2:1: snapshots are not supported yet: {% snapshot orders_snapshot %}${HINT}`,
    );
  });
});
