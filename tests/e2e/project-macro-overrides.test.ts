/**
 * A project's own macros that dbt lets a project use to replace its defaults: a generic test named
 * like a built-in (`{% test not_null %}`) replaces the built-in, and `generate_schema_name` /
 * `generate_alias_name` decide each model's and seed's relation. Run in process, on real DuckDB.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProject } from '../../runtime/project/load-project.js';
import { parseProject } from '../../runtime/parse/parse-project.js';
import { renderTest } from '../../runtime/render/test-sql.js';
import type { TestNode } from '../../runtime/manifest/types.js';
import { queryDuckDB } from '../helpers/duckdb.js';
import { smelterInProcess as smelter } from '../helpers/cli-in-process.js';
import { writeTempProject } from '../helpers/temp-project.js';

const PROJECT = 'name: shop\ntargets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n';
// name: one NULL, one empty string, two real names; id: no NULL, one empty-string-free number column.
const PEOPLE = "{{ config(materialized='table') }}\nselect * from (values (1, 'Ann'), (2, ''), (3, NULL), (4, 'Bo')) t(id, name)\n";
const PEOPLE_YML = 'version: 2\nmodels:\n  - name: people\n    columns:\n      - name: id\n        data_tests: [not_null]\n      - name: name\n        data_tests: [not_null]\n';
// The project's not_null: a NULL or an empty string is missing.
const NOT_NULL = "{% test not_null(model, column_name) %}\nselect * from {{ model }} where coalesce(cast({{ column_name }} as varchar), '') = ''\n{% endtest %}\n";

/** Output lines with timings as `Ns` (the CLI helpers need a build; these tests run in process). */
const withoutTimings = (text: string) => text.replace(/\n$/, '').split('\n').map((l) => l.replace(/\d+\.\d\ds\b/g, 'Ns'));

function testSql(dir: string, name: string): string {
  const project = loadProject(dir, { env: {} });
  const parsed = parseProject(project, { env: {} });
  const node = parsed.manifest.nodes[`test.shop.${name}`] as TestNode;
  return renderTest(node, { manifest: parsed.manifest, project, templates: parsed.templates, env: {}, runStartedAt: new Date(), invocationId: 'i' }).trim();
}

describe('a project test named like a built-in', () => {
  it.each([
    ['in macros/', 'macros/tests.sql'],
    ['in data_tests/generic/', 'data_tests/generic/not_null.sql'],
  ])('replaces the built-in (%s): its SQL runs and its failures are counted', async (_where, file) => {
    const dir = writeTempProject({ 'project.yml': PROJECT, 'models/people.sql': PEOPLE, 'models/schema.yml': PEOPLE_YML, [file]: NOT_NULL });
    expect(testSql(dir, 'not_null_people_name')).toBe(`select * from "main"."people" where coalesce(cast(name as varchar), '') = ''`);
    expect((await smelter(dir, 'run')).code).toBe(0);
    const r = await smelter(dir, 'test');
    expect(r.code).toBe(1);
    expect(withoutTimings(r.stdout)).toEqual([
      'Running 2 tests with 1 thread',
      '1 of 2 PASS not_null_people_id ............................. [PASS in Ns]',
      '2 of 2 FAIL 2 not_null_people_name ......................... [FAIL 2 in Ns]',
      'Finished 2 tests in Ns: 1 PASS, 0 WARN, 1 FAIL, 0 ERROR, 0 SKIP',
      '  not_null_people_name: Got 2 results, configured to fail if != 0',
    ]);
    const ls = await smelter(dir, 'ls', '--select', 'not_null_people_name', '--output', 'json');
    expect(JSON.parse(ls.stdout).depends_on).toEqual({ nodes: ['model.shop.people'], macros: ['macro.shop.test_not_null'] });
  });

  it('without one, the built-in runs: the empty string is not a failure', async () => {
    const dir = writeTempProject({ 'project.yml': PROJECT, 'models/people.sql': PEOPLE, 'models/schema.yml': PEOPLE_YML });
    expect(testSql(dir, 'not_null_people_name')).toBe('select * from "main"."people" where "name" is null');
    expect((await smelter(dir, 'run')).code).toBe(0);
    expect(withoutTimings((await smelter(dir, 'test')).stdout)[2]).toBe('2 of 2 FAIL 1 not_null_people_name ......................... [FAIL 1 in Ns]');
  });

  it('an override of relationships gets the parent relation as to', async () => {
    const dir = writeTempProject({
      'project.yml': PROJECT,
      'models/people.sql': PEOPLE,
      'models/pets.sql': "{{ config(materialized='table') }}\nselect * from (values (1, 1), (2, 7), (3, NULL)) t(pet_id, owner_id)\n",
      'models/schema.yml': "version: 2\nmodels:\n  - name: pets\n    columns:\n      - name: owner_id\n        data_tests:\n          - relationships: { to: \"ref('people')\", field: id }\n",
      // Also counts a pet without an owner.
      'macros/rel.sql': '{% test relationships(model, column_name, to, field) %}\nselect * from {{ model }} where {{ column_name }} is null or {{ column_name }} not in (select {{ field }} from {{ to }})\n{% endtest %}\n',
    });
    expect(testSql(dir, 'relationships_pets_owner_id__id__ref_people_')).toBe('select * from "main"."pets" where owner_id is null or owner_id not in (select id from "main"."people")');
    expect((await smelter(dir, 'run')).code).toBe(0);
    expect(withoutTimings((await smelter(dir, 'test')).stdout)[1]).toBe('1 of 1 FAIL 2 relationships_pets_owner_id__id__ref_people_ . [FAIL 2 in Ns]');
  });
});

// dbt's default naming, written as a project would: target schema, then `_<custom>`; seeds go to
// `raw`; a custom alias is prefixed with the model's folder (its fqn's second part).
const NAMING = `{% macro generate_schema_name(custom_schema_name, node) -%}
  {%- if node.resource_type == 'seed' -%}raw
  {%- elif custom_schema_name is none -%}{{ target.schema }}
  {%- else -%}{{ target.schema }}_{{ custom_schema_name | trim }}
  {%- endif -%}
{%- endmacro %}

{% macro generate_alias_name(custom_alias_name, node) -%}
  {%- if custom_alias_name is none -%}{{ node.name }}
  {%- else -%}{{ node.fqn[1] }}_{{ custom_alias_name }}
  {%- endif -%}
{%- endmacro %}
`;

function namingProject(extra: Record<string, string> = {}): string {
  return writeTempProject({
    'project.yml': PROJECT,
    'seeds/colors.csv': 'id,color\n1,red\n2,blue\n',
    'models/staging/stg_colors.sql': "{{ config(schema='staging') }}\nselect * from {{ ref('colors') }}\n",
    'models/marts/color_count.sql': "{{ config(materialized='table', alias='counts') }}\nselect count(*) as n from {{ ref('stg_colors') }}\n",
    'models/marts/history.sql':
      "{{ config(materialized='incremental', schema='hist', unique_key='id', watermark='id') }}\nselect * from {{ ref('stg_colors') }}\n{% if is_incremental() %}where id > {{ watermark() }}{% endif %}\n",
    'models/plain.sql': 'select 1 as one\n',
    ...extra,
  });
}

describe('generate_schema_name and generate_alias_name', () => {
  it('decide each relation: what is built, what ref() reads, ls and the state key', async () => {
    const dir = namingProject({ 'macros/naming.sql': NAMING });
    const ls = await smelter(dir, 'ls', '--output', 'json');
    expect(ls.stderr).toBe('');
    expect(ls.code).toBe(0);
    const listed = ls.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; config: { schema: string; alias: string } });
    expect(listed.map((n) => [n.name, n.config.schema, n.config.alias])).toEqual([
      ['color_count', 'main', 'marts_counts'],
      ['history', 'main_hist', 'history'],
      ['plain', 'main', 'plain'],
      ['stg_colors', 'main_staging', 'stg_colors'],
      ['colors', 'raw', 'colors'],
    ]);
    expect((await smelter(dir, 'build')).code).toBe(0);
    const db = join(dir, 'target/dev.duckdb');
    expect(
      await queryDuckDB(db, "select table_schema, table_name, table_type from information_schema.tables where table_schema <> '_smelter' order by all"),
    ).toEqual([
      { table_schema: 'main', table_name: 'marts_counts', table_type: 'BASE TABLE' },
      { table_schema: 'main', table_name: 'plain', table_type: 'VIEW' },
      { table_schema: 'main_hist', table_name: 'history', table_type: 'BASE TABLE' },
      { table_schema: 'main_staging', table_name: 'stg_colors', table_type: 'VIEW' },
      { table_schema: 'raw', table_name: 'colors', table_type: 'BASE TABLE' },
    ]);
    expect(await queryDuckDB(db, 'select n from main.marts_counts')).toEqual([{ n: '2' }]);
    const state = await smelter(dir, 'state', 'show', '--output', 'json');
    expect(JSON.parse(state.stdout).map((r: { table_name: string; version: number }) => [r.table_name, r.version])).toEqual([['main_hist.history', 1]]);
    // The next run finds its committed state under the same key and builds incrementally.
    const again = await smelter(dir, 'run', '--select', 'history');
    expect(again.code).toBe(0);
    expect(withoutTimings(again.stdout)[1]).toMatch(/^1 of 1 OK incremental main_hist\.history \.+ \[0 rows in Ns\]$/);
    expect(await queryDuckDB(db, 'select count(*) as n from main_hist.history')).toEqual([{ n: '2' }]);
  });

  it('without them, schema and alias are used as given', async () => {
    const dir = namingProject();
    const ls = await smelter(dir, 'ls', '--output', 'json');
    const listed = ls.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; config: { schema: string; alias: string } });
    expect(listed.map((n) => [n.name, n.config.schema, n.config.alias])).toEqual([
      ['color_count', 'main', 'counts'],
      ['history', 'hist', 'history'],
      ['plain', 'main', 'plain'],
      ['stg_colors', 'staging', 'stg_colors'],
      ['colors', 'main', 'colors'],
    ]);
  });

  it('the node a macro gets: name, resource_type, original_file_path, path, fqn, unique_id, package_name, config', async () => {
    const dir = namingProject({
      'macros/naming.sql':
        "{% macro generate_alias_name(custom_alias_name, node) -%}\n{{ node.resource_type }}__{{ node.fqn | join('.') }}__{{ node.config.materialized or 'x' }}__{{ node.original_file_path | replace('/', '.') | replace('.sql', '') | replace('.csv', '') }}__{{ node.path | length }}__{{ node.unique_id | length }}__{{ node.package_name }}__{{ custom_alias_name or 'none' }}\n{%- endmacro %}\n",
    });
    const ls = await smelter(dir, 'ls', '--select', 'color_count', 'colors', '--output', 'json');
    expect(ls.stderr).toBe('');
    expect(ls.stdout.trim().split('\n').map((l) => JSON.parse(l).config.alias)).toEqual([
      'model__shop.marts.color_count__table__models.marts.color_count__21__22__shop__counts',
      'seed__shop.colors__x__seeds.colors__10__16__shop__none',
    ]);
  });

  it('a macro that gives an empty name is an error naming it and the node', async () => {
    const dir = namingProject({ 'macros/naming.sql': "{% macro generate_schema_name(custom_schema_name, node) %}{% if node.name != 'plain' %}x{% endif %}{% endmacro %}\n" });
    const ls = await smelter(dir, 'ls');
    expect(ls.code).toBe(2);
    expect(ls.stderr).toBe("error: models/plain.sql: generate_schema_name gave an empty schema for model plain\n");
  });
});
