import { describe, expect, it } from 'vitest';
import { loadProject } from '../../runtime/project/load-project.js';
import { parseProject } from '../../runtime/parse/parse-project.js';
import type { TestNode } from '../../runtime/manifest/types.js';
import { writeTempProject } from '../helpers/temp-project.js';

/** dbt's properties files as real projects write them, read in a dbt project (dbt_project.yml). */

const DBT_PROJECT = 'name: shop\nconfig-version: 2\nprofile: shop\n';
const PROFILES = 'shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: ":memory:"\n      schema: analytics\n';

function parse(files: Record<string, string>) {
  const dir = writeTempProject({ 'dbt_project.yml': DBT_PROJECT, 'profiles.yml': PROFILES, 'models/a.sql': 'select 1 as id', 'seeds/s.csv': 'id\n1\n', ...files });
  const project = loadProject(dir, { env: {}, profilesDir: dir });
  return parseProject(project, { env: {} }).manifest;
}
const messages = (m: ReturnType<typeof parse>) => m.diagnostics.map((d) => `${d.severity}: ${d.file}:${d.line}: ${d.message}`);

describe('dbt properties files', () => {
  it('properties naming no model, seed or snapshot are warnings (dbt ignores them), and the rest parses', () => {
    const m = parse({ 'models/schema.yml': 'version: 2\nmodels:\n  - name: a\n  - name: gone\nseeds:\n  - name: nothing\nsnapshots:\n  - name: snap\n' });
    expect(messages(m)).toEqual([
      "warning: models/schema.yml:4: properties are given for model 'gone', but there is no models/**/gone.sql: they are ignored",
      "warning: models/schema.yml:6: properties are given for seed 'nothing', but there is no seeds/**/nothing.csv: they are ignored",
      "warning: models/schema.yml:8: properties are given for snapshot 'snap', but there is no {% snapshot snap %} block: they are ignored",
    ]);
    expect(Object.keys(m.nodes).sort()).toEqual(['model.shop.a', 'seed.shop.s']);
  });

  it('model versions are one error naming the feature, the file and the line', () => {
    const m = parse({ 'models/schema.yml': 'version: 2\nmodels:\n  - name: a\n    latest_version: 2\n    versions:\n      - v: 1\n      - v: 2\n' });
    expect(messages(m)).toEqual(['error: models/schema.yml:5: a: model versions (versions:) are not supported']);
  });

  it('exposures, groups and the semantic layer are read into the manifest; access, group, grants and docs are accepted; contracts warn', () => {
    const m = parse({
      'models/schema.yml': `version: 2
groups:
  - name: finance
    owner: { name: Ann }
models:
  - name: a
    access: public
    group: finance
    docs: { show: false }
    config:
      grants: { select: [reporter] }
      persist_docs: { relation: true }
      contract: { enforced: true }
    columns:
      - name: id
        data_type: integer
        constraints: [{ type: not_null }]
exposures:
  - name: weekly
    type: dashboard
    owner: { email: a@example.com }
    depends_on: [ref('a')]
semantic_models:
  - name: orders
    model: ref('a')
metrics:
  - name: revenue
    type: simple
saved_queries:
  - name: q1
`,
    });
    expect(messages(m)).toEqual([
      "warning: models/schema.yml:13: a: contract is not enforced: smelter builds the model without checking its columns' types or constraints",
      'warning: models/schema.yml:17: a: constraints are not enforced',
    ]);
    expect(Object.keys(m.declared!.exposures)).toEqual(['exposure.shop.weekly']);
    expect(m.declared!.groups['group.shop.finance']).toMatchObject({ name: 'finance', original_file_path: 'models/schema.yml', line: 3, properties: { owner: { name: 'Ann' } } });
    expect(Object.keys(m.declared!.semantic_models)).toEqual(['semantic_model.shop.orders']);
    expect(Object.keys(m.declared!.metrics)).toEqual(['metric.shop.revenue']);
    expect(Object.keys(m.declared!.saved_queries)).toEqual(['saved_query.shop.q1']);
  });

  it("names package tests as dbt does, takes arguments: and config beside them, and a ref() argument is a dependency", () => {
    const m = parse({
      'macros/tests.sql': '{% test at_least(model, column_name, minimum) %}select 1{% endtest %}',
      'models/schema.yml': `version: 2
models:
  - name: a
    columns:
      - name: id
        data_tests:
          - at_least:
              arguments: { minimum: 3 }
              config: { severity: warn, fail_calc: sum(id), store_failures_as: view, alias: low_ids }
          - at_least:
              minimum: 4
              where: id > 0
              error_if: '>2'
seeds:
  - name: s
    data_tests:
      - at_least:
          column_name: id
          minimum: "ref('a')"
`,
    });
    expect(messages(m)).toEqual([]);
    const tests = Object.values(m.nodes).filter((n): n is TestNode => n.resource_type === 'test').sort((x, y) => x.name.localeCompare(y.name));
    expect(tests.map((t) => [t.name, t.alias, t.test_metadata!.kwargs, t.depends_on.nodes, t.config])).toEqual([
      [
        'at_least_a_id__3',
        'at_least_a_id__3',
        { minimum: 3, column_name: 'id' },
        ['model.shop.a'],
        { enabled: true, tags: [], severity: 'warn', warn_if: '!= 0', error_if: '!= 0', fail_calc: 'sum(id)', store_failures: true, store_failures_as: 'view', meta: {}, alias: 'low_ids' },
      ],
      ['at_least_a_id__4', 'at_least_a_id__4', { minimum: 4, column_name: 'id' }, ['model.shop.a'], { enabled: true, tags: [], severity: 'error', where: 'id > 0', warn_if: '!= 0', error_if: '>2', store_failures: false, meta: {} }],
      ['at_least_s_id__ref_a_', 'at_least_s_id__ref_a_', { column_name: 'id', minimum: "ref('a')" }, ['seed.shop.s', 'model.shop.a'], { enabled: true, tags: [], severity: 'error', warn_if: '!= 0', error_if: '!= 0', store_failures: false, meta: {} }],
    ]);
  });

  it('a ref() argument naming nothing is an error at that argument', () => {
    const m = parse({
      'macros/tests.sql': '{% test same(model, compare_model) %}select 1{% endtest %}',
      'models/schema.yml': "version: 2\nmodels:\n  - name: a\n    data_tests:\n      - same:\n          compare_model: ref('nope')\n",
    });
    expect(messages(m)).toEqual(["error: models/schema.yml:6: same: compare_model: ref('nope'): no model or seed named nope"]);
  });
});
