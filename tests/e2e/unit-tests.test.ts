import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { queryDuckDB, smelter, withoutTimings } from '../helpers/cli.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * dbt's unit tests (SPEC §6): given rows for each input (inline or CSV) cast to declared types or
 * the built relation's, expected rows, var and is_incremental overrides, run in a scratch in-memory
 * database; `build` runs them before their model, and a failure skips it.
 */

const SOURCES = `version: 2
sources:
  - name: raw
    external_location: data/orders.csv
    tables:
      - name: orders
        columns:
          - { name: id, data_type: INTEGER }
          - { name: amount, data_type: "DECIMAL(10,2)" }
          - { name: status, data_type: VARCHAR }
`;

function project(unitTests: string, extra: Record<string, string> = {}): string {
  return writeTempProject({
    'project.yml': 'name: ut\nvars:\n  rate: 2\ntargets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n',
    'models/sources.yml': SOURCES,
    'models/unit.yml': `version: 2\nunit_tests:\n${unitTests}`,
    'models/customers.sql': "{{ config(materialized='table') }}\nselect 1 as id, 'Ann' as name",
    'models/customers.yml': 'version: 2\nmodels:\n  - name: customers\n    columns:\n      - { name: id, data_type: INTEGER }\n      - { name: name, data_type: VARCHAR }\n',
    'models/paid.sql':
      "select o.id, o.amount * {{ var('rate') }} as doubled, c.name from {{ source('raw', 'orders') }} o join {{ ref('customers') }} c using (id) where o.status = 'paid'",
    'data/orders.csv': 'id,amount,status\n1,5,paid\n',
    ...extra,
  });
}

const PAID_OK = `  - name: paid_orders_are_doubled
    model: paid
    given:
      - input: source('raw', 'orders')
        rows:
          - { id: 1, amount: 5, status: paid }
          - { id: 2, amount: 7, status: open }
          - { id: 3, amount: 1.5, status: paid }
      - input: ref('customers')
        format: csv
        rows: |
          id,name
          1,Ann
          3,"Bo, Jr"
    expect:
      rows:
        - { id: 1, doubled: 10, name: Ann }
        - { id: 3, doubled: 3, name: "Bo, Jr" }
`;
const PAID_WRONG = `  - name: rate_three
    model: paid
    overrides:
      vars: { rate: 3 }
    given:
      - input: source('raw', 'orders')
        rows: [{ id: 1, amount: 5, status: paid }]
      - input: ref('customers')
        rows: [{ id: 1, name: Ann }]
    expect:
      rows: [{ id: 1, doubled: 10 }]
`;

describe('unit tests', () => {
  it('pass and fail on given rows without touching the database; a failure shows expected and actual rows', async () => {
    const dir = project(PAID_OK + PAID_WRONG);
    const r = await smelter(['test', '--threads', '1'], { projectDir: dir });
    expect(r.code).toBe(1);
    expect(withoutTimings(r.stdout)).toEqual([
      'Running 2 tests with 1 thread',
      '1 of 2 PASS paid_orders_are_doubled ........................ [PASS in Ns]',
      '2 of 2 FAIL 2 rate_three ................................... [FAIL 2 in Ns]',
      'Finished 2 tests in Ns: 1 PASS, 0 WARN, 1 FAIL, 0 ERROR, 0 SKIP',
      '  rate_three: 1 expected row missing, 1 unexpected',
      '  expected:',
      '    {"id":1,"doubled":"10.00"}',
      '  actual:',
      '    {"id":1,"doubled":"15.00"}',
    ]);
    // Nothing was built: the unit tests ran in a scratch database.
    const tables = existsSync(join(dir, 'target/dev.duckdb')) ? await queryDuckDB(join(dir, 'target/dev.duckdb'), 'select table_name from information_schema.tables') : [];
    expect(tables).toEqual([]);
  });

  it('overrides.env_vars is what env_var() reads while the model renders', async () => {
    const dir = project(
      `  - name: tax_from_env
    model: taxed
    overrides:
      env_vars: { TAX_RATE: 3 }
    given:
      - input: source('raw', 'orders')
        rows: [{ id: 1, amount: 5, status: paid }]
    expect:
      rows: [{ id: 1, taxed: 15 }]
`,
      { 'models/taxed.sql': "select id, amount * {{ env_var('TAX_RATE', '1') }} as taxed from {{ source('raw', 'orders') }}" },
    );
    const r = await smelter(['test', '--select', 'taxed'], { projectDir: dir });
    expect(r.stderr).toBe('');
    expect(withoutTimings(r.stdout)[1]).toBe('1 of 1 PASS tax_from_env ................................... [PASS in Ns]');
  });

  it('build runs a model after its unit tests pass, and skips it when one fails', async () => {
    const good = project(PAID_OK);
    expect(withoutTimings((await smelter(['build', '--threads', '1'], { projectDir: good })).stdout)).toEqual([
      'Running 3 nodes with 1 thread',
      '1 of 3 OK table main.customers ............................. [1 row in Ns]',
      '2 of 3 PASS paid_orders_are_doubled ........................ [PASS in Ns]',
      '3 of 3 OK view main.paid ................................... [OK in Ns]',
      'Finished 3 nodes in Ns: 2 OK, 1 PASS, 0 WARN, 0 FAIL, 0 ERROR, 0 SKIP',
    ]);
    const bad = project(PAID_WRONG);
    const r = await smelter(['build', '--threads', '1'], { projectDir: bad });
    expect(r.code).toBe(1);
    expect(withoutTimings(r.stdout).slice(1, 4)).toEqual([
      '1 of 3 OK table main.customers ............................. [1 row in Ns]',
      '2 of 3 FAIL 2 rate_three ................................... [FAIL 2 in Ns]',
      '3 of 3 SKIP view main.paid ................................. [SKIP]',
    ]);
  });

  it('build from nothing runs a unit test after its model\'s inputs, so their types come from the built relations', async () => {
    const dir = project(PAID_OK, { 'models/customers.yml': 'version: 2\n' });
    expect(withoutTimings((await smelter(['build', '--threads', '2'], { projectDir: dir })).stdout).slice(1)).toEqual([
      '1 of 3 OK table main.customers ............................. [1 row in Ns]',
      '2 of 3 PASS paid_orders_are_doubled ........................ [PASS in Ns]',
      '3 of 3 OK view main.paid ................................... [OK in Ns]',
      'Finished 3 nodes in Ns: 2 OK, 1 PASS, 0 WARN, 0 FAIL, 0 ERROR, 0 SKIP',
    ]);
  });

  it('takes types from the built relation when none are declared, and overrides is_incremental with rows for this', async () => {
    const dir = project(
      `  - name: only_new_rows
    model: inc
    overrides:
      macros: { is_incremental: true }
    given:
      - input: ref('customers')
        rows: [{ id: 1, name: Ann }, { id: 5, name: Eve }]
      - input: this
        rows: [{ id: 1, name: Ann }]
    expect:
      rows: [{ id: 5, name: Eve }]
`,
      {
        'models/customers.yml': 'version: 2\n',
        'models/inc.sql':
          "{{ config(materialized='incremental', watermark='id') }}\nselect id, name from {{ ref('customers') }}\n{% if is_incremental() %}where id > {{ watermark() }}{% endif %}\n",
      },
    );
    // No types are declared: they come from the built tables (customers, and inc for this).
    expect((await smelter(['run', '--select', 'customers', 'inc'], { projectDir: dir })).code).toBe(0);
    const r = await smelter(['test', '--select', 'inc'], { projectDir: dir });
    expect(withoutTimings(r.stdout)[1]).toMatch(/^1 of 1 PASS only_new_rows \.+ \[PASS in Ns\]$/);
  });

  it('a unit test whose input types are unknown, or that misses an input, is a clear error', async () => {
    const untyped = project(`  - name: untyped
    model: paid
    given:
      - input: source('raw', 'orders')
        rows: [{ id: 1, amount: 5, status: paid }]
      - input: ref('customers')
        rows: [{ id: 1, name: Ann }]
    expect:
      rows: []
`, { 'models/customers.yml': 'version: 2\n' });
    const r = await smelter(['test'], { projectDir: untyped });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("unit test untyped: given ref('customers'): the type of column id is unknown: declare its data_type in the properties of customers, or build customers first");
    const missing = project(`  - name: missing_input
    model: paid
    given:
      - input: ref('customers')
        rows: [{ id: 1, name: Ann }]
    expect:
      rows: []
`);
    const m = await smelter(['test'], { projectDir: missing });
    expect({ code: m.code, stderr: m.stderr.trim() }).toEqual({
      code: 2,
      stderr: "error: models/unit.yml:3: unit test missing_input: every input of paid needs given rows; missing source('raw', 'orders')",
    });
  });
});
