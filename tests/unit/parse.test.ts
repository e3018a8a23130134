import { describe, expect, it } from 'vitest';
import { loadProject } from '../../runtime/project/load-project.js';
import { parseProject } from '../../runtime/parse/parse-project.js';
import { renderModel } from '../../runtime/render/render-model.js';
import type { ModelNode } from '../../runtime/manifest/types.js';
import { writeTempProject } from '../helpers/temp-project.js';

const PROJECT = `name: shop
vars:
  n: 3
  region: eu
targets:
  dev: { database: ':memory:' }
models:
  marts:
    +materialized: table
    +tags: [nightly]
    +schema: marts
`;

function parse(files: Record<string, string>, vars?: Record<string, unknown>) {
  const dir = writeTempProject({ 'project.yml': PROJECT, 'models/marts/README.md': 'folder config applies here', ...files });
  const project = loadProject(dir, { vars, env: {} });
  return { project, ...parseProject(project, { env: {} }) };
}

const model = (m: { nodes: Record<string, unknown> }, name: string) => m.nodes[`model.shop.${name}`] as ModelNode;

describe('parse', () => {
  it('records ref() and source() from every branch and from depends_on comments', () => {
    const { manifest } = parse({
      'models/a.sql': 'select 1 as id',
      'models/b.sql': 'select 2 as id',
      'models/c.sql': 'select 3 as id',
      'models/d.sql': "select 4 as id",
      'models/x.sql': [
        "-- depends_on: {{ ref('d') }}",
        '{% if is_incremental() %}',
        "select * from {{ ref('a') }}",
        '{% else %}',
        "select * from {{ ref('b') }} join {{ source('raw', 'orders') }} using (id)",
        '{% endif %}',
        "{# {{ ref('c') }} is commented out #}",
      ].join('\n'),
      'models/sources.yml': 'version: 2\nsources:\n  - name: raw\n    tables:\n      - name: orders\n',
    });
    expect(manifest.diagnostics).toEqual([]);
    const x = model(manifest, 'x');
    expect([...x.depends_on.nodes].sort()).toEqual(['model.shop.a', 'model.shop.b', 'model.shop.d', 'source.shop.raw.orders']);
    expect(x.parsed_by_render).toBe(false);
    expect(x.refs.map((r) => [r.name, r.line])).toEqual([
      ['d', 1],
      ['a', 3],
      ['b', 5],
    ]);
  });

  it('renders to record refs the static reader cannot see', () => {
    const { manifest } = parse({
      'models/a.sql': 'select 1 as id',
      'models/b.sql': 'select 2 as id',
      'models/u.sql': "{% for m in ['a', 'b'] %}select * from {{ ref(m) }}{% if not loop.last %} union all {% endif %}{% endfor %}",
    });
    const u = model(manifest, 'u');
    expect(u.parsed_by_render).toBe(true);
    expect([...u.depends_on.nodes].sort()).toEqual(['model.shop.a', 'model.shop.b']);
  });

  it('resolves config by precedence: config() > YAML > folder > defaults', () => {
    const { manifest } = parse({
      'models/marts/f.sql': "{{ config(alias='fact_orders', tags=['finance']) }}\nselect 1 as id",
      'models/marts/g.sql': 'select 1 as id',
      'models/marts/props.yml': 'version: 2\nmodels:\n  - name: f\n    config:\n      materialized: view\n      tags: [pii]\n',
      'models/v.sql': 'select 1 as id',
    });
    const f = model(manifest, 'f');
    expect(f.config).toMatchObject({ materialized: 'view', schema: 'marts', alias: 'fact_orders', tags: ['nightly', 'pii', 'finance'] });
    expect(f.relation).toEqual({ schema: 'marts', identifier: 'fact_orders' });
    expect(model(manifest, 'g').config).toMatchObject({ materialized: 'table', schema: 'marts', alias: 'g', tags: ['nightly'] });
    expect(model(manifest, 'v').config).toMatchObject({ materialized: 'view', schema: 'main', alias: 'v', tags: [] });
  });

  it('takes config() under a condition from the branch that renders', () => {
    const { manifest } = parse({
      'models/c.sql': "{% if target.name == 'dev' %}{{ config(materialized='table') }}{% else %}{{ config(materialized='view') }}{% endif %}\nselect 1",
    });
    expect(model(manifest, 'c').config.materialized).toBe('table');
    expect(model(manifest, 'c').parsed_by_render).toBe(true);
  });

  it('records the macros a model uses, through macros that call macros', () => {
    const { manifest } = parse({
      'macros/m.sql': '{% macro inner(x) %}{{ x }}{% endmacro %}\n{% macro outer(x) %}{{ inner(x) }}{% endmacro %}\n{% macro unused() %}{% endmacro %}',
      'models/a.sql': "select {{ outer('1') }} as id",
    });
    expect(model(manifest, 'a').depends_on.macros).toEqual(['macro.shop.inner', 'macro.shop.outer']);
    expect(manifest.macros['macro.shop.outer']).toMatchObject({ original_file_path: 'macros/m.sql', line: 2, depends_on: { macros: ['macro.shop.inner'] } });
  });

  it('collects every error with file, line and a hint', () => {
    const { manifest } = parse({
      'models/dim_member.sql': 'select 1 as id',
      'models/a.sql': "select *\nfrom {{ ref('dim_members') }}",
      'models/b.sql': "select * from {{ source('raw', 'nope') }}",
      'models/off.sql': "{{ config(enabled=false) }}\nselect 1",
      'models/c.sql': "select * from {{ ref('off') }}",
      'models/d.sql': "{{ config(materialised='table') }}\nselect 1",
    });
    expect(manifest.diagnostics.map((d) => [d.file, d.line, d.message, d.hint])).toEqual([
      ['models/d.sql', 1, "unknown config key 'materialised'", 'did you mean materialized?'],
      ['models/a.sql', 2, "ref('dim_members'): no model or seed named dim_members", 'did you mean dim_member?'],
      ['models/b.sql', 1, "source('raw', 'nope'): no such source table", undefined],
      ['models/c.sql', 1, "ref('off'): model off is disabled (enabled: false)", undefined],
    ]);
    expect(manifest.disabled['model.shop.off']).toBeDefined();
  });

  describe('reports the broken node, never its dependents', () => {
    const located = (m: { diagnostics: readonly { file?: string; line?: number; column?: number; message: string }[] }) =>
      m.diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`);
    // b reads a; c reads b; a singular test and a relationships test read a; a unit test gives rows for a.
    const DEPENDENTS = {
      'models/b.sql': "select * from {{ ref('a') }}",
      'models/c.sql': "select * from {{ ref('b') }}",
      'models/d.sql': 'select 1 as id',
      'data_tests/a_positive.sql': "select * from {{ ref('a') }} where id < 0",
      'models/unit.yml':
        "version: 2\nunit_tests:\n  - name: b_keeps_rows\n    model: b\n    given:\n      - input: ref('a')\n        rows: [{ id: 1 }]\n    expect:\n      rows: [{ id: 1 }]\n",
      'models/d.yml': "version: 2\nmodels:\n  - name: d\n    columns:\n      - name: id\n        data_tests:\n          - relationships: { to: ref('a'), field: id }\n",
    };

    it('a config error in a model', () => {
      const { manifest } = parse({ ...DEPENDENTS, 'models/a.sql': "{{ config(materialized='tabel') }}\nselect 1 as id" });
      expect(located(manifest)).toEqual([
        "models/a.sql:1:4: config materialized must be one of 'view', 'table', 'ephemeral', 'incremental', 'scd2', got \"tabel\"",
      ]);
    });

    it('a template syntax error in a model', () => {
      const { manifest } = parse({ ...DEPENDENTS, 'models/a.sql': '{% if true %}\nselect 1 as id' });
      expect(located(manifest)).toEqual(['models/a.sql:1:4: template syntax error: expected elif, else, or endif, got end of file']);
    });

    it("a bad entry in a model's properties", () => {
      const { manifest } = parse({
        ...DEPENDENTS,
        'models/a.sql': 'select 1 as id',
        'models/a.yml': 'version: 2\nmodels:\n  - name: a\n    columns:\n      - name: id\n        data_tests: [{ unique: { severity: fatal } }]\n',
      });
      expect(located(manifest)).toEqual(['models/a.yml:6:34: unique: severity must be error or warn']);
    });

    it('a config error in a seed', () => {
      const { manifest } = parse({
        ...DEPENDENTS,
        'seeds/a.csv': 'id\n1\n',
        'models/seeds.yml': 'version: 2\nseeds:\n  - name: a\n    config:\n      colum_types: { id: integer }\n',
      });
      expect(located(manifest)).toEqual(["models/seeds.yml:5:7: unknown config key 'colum_types'"]);
    });

    it('a bad source entry: the models that read it report nothing; other sources of the file still count', () => {
      const { manifest } = parse({
        'models/sources.yml':
          'version: 2\nsources:\n  - name: raw\n    tables:\n      - name: orders\n        identifer: orders_v2\n  - name: ref_data\n    tables:\n      - name: countries\n',
        'models/stg_orders.sql': "select * from {{ source('raw', 'orders') }}",
        'models/stg_countries.sql': "select * from {{ source('ref_data', 'countries') }}",
        'models/typo.sql': "select * from {{ source('ref_data', 'contries') }}",
      });
      expect(located(manifest)).toEqual([
        "models/sources.yml:6:9: unknown key 'identifer' in source raw table",
        "models/typo.sql:1:undefined: source('ref_data', 'contries'): no such source table",
      ]);
    });

    it('a properties file that is not YAML: only its syntax error', () => {
      const { manifest } = parse({
        'models/sources.yml': 'version: 2\nsources:\n  - name: raw\n    tables:\n      - name: orders\n     - name: customers\n',
        'models/stg_orders.sql': "select * from {{ source('raw', 'orders') }}",
      });
      expect(located(manifest)).toEqual(['models/sources.yml:6:6: invalid YAML: A block sequence may not be used as an implicit map key']);
    });

    it('errors of their own are still reported', () => {
      const { manifest } = parse({ ...DEPENDENTS, 'models/a.sql': "{{ config(materialized='tabel') }}\nselect 1 as id", 'models/e.sql': "select * from {{ ref('b') }} join {{ ref('dd') }} using (id)" });
      expect(located(manifest)).toEqual([
        "models/a.sql:1:4: config materialized must be one of 'view', 'table', 'ephemeral', 'incremental', 'scd2', got \"tabel\"",
        "models/e.sql:1:undefined: ref('dd'): no model or seed named dd",
      ]);
    });
  });

  it('locates schema.yml errors at the key at fault: exact line and column', () => {
    const at = (yml: string) => {
      const { manifest } = parse({ 'models/a.sql': 'select 1 as id', 'models/schema.yml': yml });
      return manifest.diagnostics.map((d) => `${d.line}:${d.column}: ${d.message}`);
    };
    const column = (test: string) => `version: 2\nmodels:\n  - name: a\n    columns:\n      - name: id\n        data_tests:\n${test}`;
    // an unknown key
    expect(at('version: 2\nmodels:\n  - name: a\n    descripton: x\n')).toEqual(["4:5: unknown key 'descripton' in models[0]"]);
    // a value of the wrong type
    expect(at('version: 2\nmodels:\n  - name: a\n    description: [1, 2]\n')).toEqual(['4:5: description must be a string']);
    // a test's bad argument: the argument's line, not the test's
    expect(at(column('          - accepted_values:\n              valus: [1]\n'))).toEqual(["8:15: accepted_values: unknown argument 'valus'"]);
    expect(at(column('          - accepted_values:\n              values: [1]\n              quote: maybe\n'))).toEqual(['9:15: accepted_values: quote must be true or false']);
    expect(at(column("          - relationships:\n              field: id\n              to: ref('zz')\n"))).toEqual(["9:15: relationships: to: ref('zz'): no model or seed named zz"]);
    // a test's bad config, under config: or among the arguments
    expect(at(column('          - not_null:\n              config:\n                severit: warn\n'))).toEqual(["9:17: not_null: unknown test config 'severit'"]);
    expect(at(column('          - unique:\n              where: 3\n'))).toEqual(['8:15: unique: where must be a string']);
    // a column under a model that does not exist: at the entry's name
    expect(at('version: 2\nmodels:\n  - name: a\n  - description: no such model\n    name: zz\n    columns:\n      - name: id\n')).toEqual([
      "5:5: properties are given for model 'zz', but there is no models/**/zz.sql",
    ]);
    // a unit test of a model that does not exist, and an input the model does not read
    expect(at('version: 2\nunit_tests:\n  - name: u\n    model: zz\n    expect: { rows: [] }\n')).toEqual(['4:5: unit test u: no model named zz']);
    expect(at("version: 2\nunit_tests:\n  - name: u\n    model: a\n    given:\n      - rows: []\n        input: ref('a')\n    expect: { rows: [] }\n")).toEqual([
      "7:9: unit test u: given input ref('a') is not an input of a (its inputs: none)",
    ]);
    // an alias to no anchor is a YAML error at the alias, not an internal error
    expect(at('version: 2\nmodels:\n  - name: a\n    columns: *cols\n')).toEqual(['4:14: invalid YAML: Unresolved alias (the anchor must be set before the alias): cols']);
  });

  it('refuses an scd2 config without what its strategy compares, at its config() call', () => {
    const { manifest } = parse({
      'models/a.sql': "{{ config(materialized='scd2', check_cols=['x']) }}\nselect 1 as id, 1 as x",
      'models/b.sql': "{{ config(materialized='scd2', unique_key='id',\n  strategy='timestamp') }}\nselect 1 as id",
      'models/c.sql': "{{ config(materialized='scd2', unique_key='id', updated_at='u',\n  check_cols=['x']) }}\nselect 1 as id",
      'models/d.sql': "{{ config(materialized='scd2', unique_key='id') }}\nselect 1 as id",
    });
    expect(manifest.diagnostics.map((d) => [d.file, d.line, d.message])).toEqual([
      ['models/a.sql', 1, 'an scd2 model needs unique_key: the natural key whose versions it keeps'],
      ['models/b.sql', 1, 'strategy timestamp needs updated_at: the column whose newer value makes a new version'],
      ['models/c.sql', 1, 'check_cols is for strategy check; strategy timestamp compares updated_at'],
    ]);
  });

  it('reports a cycle as a path', () => {
    const { manifest } = parse({
      'models/a.sql': "select * from {{ ref('c') }}",
      'models/b.sql': "select * from {{ ref('a') }}",
      'models/c.sql': "select * from {{ ref('b') }}",
    });
    expect(manifest.diagnostics.map((d) => d.message)).toEqual(['dependency cycle: a -> b -> c -> a']);
  });

  it('reports two models with one name', () => {
    const { manifest } = parse({ 'models/x/a.sql': 'select 1', 'models/y/a.sql': 'select 2' });
    expect(manifest.diagnostics.map((d) => [d.file, d.message])).toEqual([
      ['models/y/a.sql', "two nodes are named 'a': models/x/a.sql and models/y/a.sql"],
    ]);
  });

  it('renders simple templates without the engine, identically to the engine', () => {
    const templates: Record<string, string> = {
      'models/base.sql': 'select 1 as id',
      'models/plain.sql': "-- a comment {# with a jinja comment #}\nselect * from {{ ref('base') }} where id < {{ var('n') }} and r = '{{ var(\"region\") }}'\n{{ config(materialized='table') }}\n",
      'models/src.sql': "select * from {{ source('raw', 'orders') }} limit {{ var('missing_var', 7) }}",
      'models/sources.yml': "version: 2\nsources:\n  - name: raw\n    external_location: 'data/{name}.parquet'\n    tables:\n      - name: orders\n",
    };
    const parsed = parse(templates);
    const renv = { manifest: parsed.manifest, project: parsed.project, templates: parsed.templates, env: {}, runStartedAt: new Date(0), invocationId: 'x' };
    for (const name of ['plain', 'src']) {
      const node = model(parsed.manifest, name);
      expect(node.fast_path).toBeDefined();
      const fast = renderModel(node, renv);
      const slow = renderModel({ ...node, fast_path: undefined }, renv);
      expect(fast).toBe(slow);
    }
    expect(renderModel(model(parsed.manifest, 'src'), renv)).toBe(
      `select * from read_parquet('${parsed.project.config.dir}/data/orders.parquet', union_by_name = true) limit 7`,
    );
    expect(renderModel(model(parsed.manifest, 'plain'), renv)).toBe(
      "-- a comment \nselect * from \"main\".\"base\" where id < 3 and r = 'eu'\n\n",
    );
  });

  it('inlines ephemeral models as CTEs, nested ones first', () => {
    const parsed = parse({
      'models/e1.sql': "{{ config(materialized='ephemeral') }}select 1 as id",
      'models/e2.sql': "{{ config(materialized='ephemeral') }}select id + 1 as id from {{ ref('e1') }}",
      'models/m.sql': "-- top\nwith z as (select 9 as id)\nselect * from {{ ref('e2') }} union all select * from {{ ref('e1') }} union all select * from z",
    });
    const renv = { manifest: parsed.manifest, project: parsed.project, templates: parsed.templates, env: {}, runStartedAt: new Date(0), invocationId: 'x' };
    expect(renderModel(model(parsed.manifest, 'm'), renv)).toBe(
      [
        '-- top',
        'with __smelter_cte__e1 AS (',
        'select 1 as id',
        '),',
        '__smelter_cte__e2 AS (',
        'select id + 1 as id from __smelter_cte__e1',
        '),',
        'z as (select 9 as id)',
        'select * from __smelter_cte__e2 union all select * from __smelter_cte__e1 union all select * from z',
      ].join('\n'),
    );
  });
});

describe('source properties as dbt projects write them', () => {
  const sources = (yaml: string) => {
    const { manifest } = parse({ 'models/sources.yml': `version: 2\nsources:\n${yaml}` });
    return {
      errors: manifest.diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}${d.hint ? ` (${d.hint})` : ''}`),
      nodes: Object.values({ ...manifest.nodes, ...manifest.disabled })
        .filter((n) => n.resource_type === 'source')
        .map((n) => [n.unique_id, n.config.enabled, n.tags, (n as { external_location?: string }).external_location ?? null]),
    };
  };

  it("a source's config: is the default of its tables'; tags of every level add up", () => {
    expect(
      sources(
        [
          '  - name: raw',
          '    tags: [a]',
          "    config: { enabled: false, tags: [b], meta: { external_location: 'lake/{identifier}.csv' } }",
          '    tables:',
          '      - { name: kept, identifier: kept_v2, config: { enabled: true, tags: [c] } }',
          '      - { name: dropped }',
          '',
        ].join('\n'),
      ),
    ).toEqual({
      errors: [],
      nodes: [
        ['source.shop.raw.kept', true, ['a', 'b', 'c'], 'lake/kept_v2.csv'],
        ['source.shop.raw.dropped', false, ['a', 'b'], 'lake/dropped.csv'],
      ],
    });
  });

  it('two different external locations on one table, a misspelled config key and a bad template are errors at their lines', () => {
    expect(
      sources(
        [
          '  - name: two',
          '    tables:',
          '      - name: t',
          "        external_location: 'a.csv'",
          "        meta: { external_location: 'b.csv' }",
          '  - name: typo',
          "    config: { external_locaton: 'x.csv' }",
          '    tables: [{ name: t }]',
          "  - name: \"{{ var('nope') }}\"",
          '    tables: [{ name: t }]',
          '',
        ].join('\n'),
      ).errors,
    ).toEqual([
      "models/sources.yml:7:17: external_location is given twice, differently (also at line 6)",
      "models/sources.yml:9:15: unknown source config key 'external_locaton' (did you mean external_location?)",
      "models/sources.yml:11:5: var 'nope' is not declared in project.yml and has no default (declare it under vars: or call var('nope', default))",
    ]);
  });
});
