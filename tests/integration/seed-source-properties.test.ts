import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { queryDuckDB } from '../helpers/duckdb.js';
import { runProject, type RunResult } from '../../runtime/index.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * Properties written the way dbt projects write them: seed properties in a YAML file under
 * seed-paths, templated source names, schemas and identifiers, and dbt-duckdb's external_location
 * under a source's `meta:` or `config:`. Each must take effect, not be skipped in silence.
 */

const PROJECT = 'name: props\ntargets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n';
/** Name, status and rows (failures for a test), in name order: tests of one parent finish in any order. */
const statusOf = (r: RunResult) =>
  r.results.map((x) => [x.name, x.status, x.rows ?? x.failures ?? null]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
const query = (dir: string, sql: string) => queryDuckDB(join(dir, 'target/dev.duckdb'), sql);

describe('seed properties under seed-paths', () => {
  it('applies column_types and schema, and runs the tests declared there', async () => {
    const dir = writeTempProject({
      'project.yml': PROJECT,
      'seeds/countries.csv': 'code,name,population\n001,Andorra,80000\n002,Belize,400000\n',
      'seeds/countries.yml': [
        'version: 2',
        'seeds:',
        '  - name: countries',
        '    config:',
        '      schema: reference',
        '      column_types: { code: VARCHAR, population: DOUBLE }',
        '    columns:',
        '      - name: code',
        '        tests: [unique, not_null]',
        '      - name: name',
        '        tests:',
        '          - accepted_values: { values: [Andorra] }',
        '',
      ].join('\n'),
    });
    const { run } = await runProject('build', { projectDir: dir, env: {} });
    expect(statusOf(run)).toEqual([
      ['accepted_values_countries_name__Andorra', 'fail', 1],
      ['countries', 'success', 2],
      ['not_null_countries_code', 'pass', 0],
      ['unique_countries_code', 'pass', 0],
    ]);
    expect(await query(dir, 'select column_name, column_type from (describe reference.countries)')).toEqual([
      { column_name: 'code', column_type: 'VARCHAR' },
      { column_name: 'name', column_type: 'VARCHAR' },
      { column_name: 'population', column_type: 'DOUBLE' },
    ]);
    expect(await query(dir, 'select code, population from reference.countries order by code')).toEqual([
      { code: '001', population: 80000 },
      { code: '002', population: 400000 },
    ]);
  });
});

describe('templated source properties', () => {
  it('renders name, schema and identifier with vars and env_var at parse', async () => {
    const dir = writeTempProject({
      'project.yml': `${PROJECT}vars:\n  raw_schema: main\n  raw_source: raw\n`,
      'seeds/people_v2.csv': 'id,name\n1,Ada\n2,Grace\n',
      'seeds/people.yml': 'version: 2\nseeds:\n  - name: people_v2\n    config: { schema: landing }\n',
      'models/sources.yml': [
        'version: 2',
        'sources:',
        `  - name: "{{ var('raw_source') }}"`,
        `    schema: "{{ var('raw_schema') }}"`,
        '    tables:',
        '      - name: people',
        `        identifier: "{{ env_var('PEOPLE_TABLE', 'people') }}"`,
        '',
      ].join('\n'),
      'models/people.sql': "select id, name from {{ source('crm', 'people') }} order by id\n",
    });
    const options = { projectDir: dir, env: { PEOPLE_TABLE: 'people_v2' }, vars: { raw_schema: 'landing', raw_source: 'crm' } };
    expect(statusOf((await runProject('build', options)).run)).toEqual([
      ['people', 'success', null],
      ['people_v2', 'success', 2],
    ]);
    expect(await query(dir, 'select id, name from main.people order by id')).toEqual([
      { id: '1', name: 'Ada' },
      { id: '2', name: 'Grace' },
    ]);
  });
});

describe("dbt-duckdb's external_location under meta: and config:", () => {
  it('reads the files of a table whose location is in meta:, config:, or its source\'s', async () => {
    const dir = writeTempProject({
      'project.yml': PROJECT,
      'data/orders.csv': 'id,amount\n1,10\n2,20\n',
      'data/refunds.csv': 'id,amount\n7,-5\n',
      'lake/customers.csv': 'id,name\n3,Linus\n',
      'lake/products.csv': 'id,name\n4,Widget\n',
      'models/sources.yml': [
        'version: 2',
        'sources:',
        '  - name: files',
        '    tables:',
        '      - name: orders',
        "        meta: { external_location: 'data/{name}.csv' }",
        '      - name: refunds',
        "        config: { external_location: 'data/refunds.csv' }",
        '  - name: lake_meta',
        "    meta: { external_location: 'lake/{name}.csv' }",
        '    tables: [{ name: customers }]',
        '  - name: lake_config',
        "    config: { external_location: 'lake/{name}.csv' }",
        '    tables: [{ name: products }]',
        '',
      ].join('\n'),
      'models/everything.sql': [
        "select 'orders' as t, id, amount::varchar as v from {{ source('files', 'orders') }}",
        "union all select 'refunds', id, amount::varchar from {{ source('files', 'refunds') }}",
        "union all select 'customers', id, name from {{ source('lake_meta', 'customers') }}",
        "union all select 'products', id, name from {{ source('lake_config', 'products') }}",
        '',
      ].join('\n'),
    });
    expect(statusOf((await runProject('run', { projectDir: dir, env: {} })).run)).toEqual([['everything', 'success', null]]);
    expect(await query(dir, 'select t, id, v from main.everything order by id')).toEqual([
      { t: 'orders', id: '1', v: '10' },
      { t: 'orders', id: '2', v: '20' },
      { t: 'customers', id: '3', v: 'Linus' },
      { t: 'products', id: '4', v: 'Widget' },
      { t: 'refunds', id: '7', v: '-5' },
    ]);
  });
});
