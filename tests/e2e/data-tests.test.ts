import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { queryDuckDB, smelter, withoutTimings } from '../helpers/cli.js';
import { writeTempProject } from '../helpers/temp-project.js';
import { synthesizeTestName } from '../../runtime/parse/data-tests.js';

/**
 * `smelter test` (SPEC §6): generic tests declared in YAML (built-in and `{% test %}` macros),
 * singular tests, configs, dbt's names, selection, and bad declarations.
 */

const PROJECT = 'name: shop\ntargets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n';
// orders: id 3 twice, a NULL customer, status 'lost' not accepted, customer 9 has no customer row.
const ORDERS = `select * from (values (1, 10, 'paid', 5), (2, 10, 'open', 7), (3, NULL, 'lost', 2), (3, 9, 'paid', 0)) t(id, customer_id, status, amount)`;
const CUSTOMERS = `select * from (values (10, 'Ann'), (11, 'Bo')) t(customer_id, name)`;

function project(schemaYml: string, extra: Record<string, string> = {}): string {
  return writeTempProject({
    'project.yml': PROJECT,
    'models/orders.sql': `{{ config(materialized='table') }}\n${ORDERS}\n`,
    'models/customers.sql': `{{ config(materialized='table') }}\n${CUSTOMERS}\n`,
    'models/schema.yml': schemaYml,
    ...extra,
  });
}

const ALL_BUILT_INS = `version: 2
models:
  - name: orders
    data_tests:
      - unique_combination_of_columns: { combination_of_columns: [id, customer_id] }
      - expression_is_true: { expression: "amount >= 0" }
    columns:
      - name: id
        data_tests: [unique, not_null]
      - name: customer_id
        data_tests:
          - not_null
          - relationships: { to: "ref('customers')", field: customer_id }
      - name: status
        data_tests:
          - accepted_values: { values: [paid, open] }
      - name: amount
        data_tests:
          - expression_is_true: { expression: "> 1" }
  - name: customers
    columns:
      - name: customer_id
        tests: [unique]
`;

describe('smelter test', () => {
  it('runs every built-in generic test with dbt names, counts failing rows and exits 1 on a failure', async () => {
    const dir = project(ALL_BUILT_INS);
    expect((await smelter(['run'], { projectDir: dir })).code).toBe(0);
    const r = await smelter(['test', '--threads', '1'], { projectDir: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(withoutTimings(r.stdout)).toEqual([
      'Running 9 tests with 1 thread',
      '1 of 9 PASS unique_customers_customer_id ................... [PASS in Ns]',
      '2 of 9 PASS unique_combination_of_columns_orders_id__customer_id  [PASS in Ns]',
      '3 of 9 PASS expression_is_true_orders_amount_0 ............. [PASS in Ns]',
      '4 of 9 FAIL 1 unique_orders_id ............................. [FAIL 1 in Ns]',
      '5 of 9 PASS not_null_orders_id ............................. [PASS in Ns]',
      '6 of 9 FAIL 1 not_null_orders_customer_id .................. [FAIL 1 in Ns]',
      '7 of 9 FAIL 1 relationships_orders_customer_id__customer_id__ref_customers_  [FAIL 1 in Ns]',
      '8 of 9 FAIL 1 accepted_values_orders_status__paid__open .... [FAIL 1 in Ns]',
      '9 of 9 FAIL 1 expression_is_true_orders_amount___1 ......... [FAIL 1 in Ns]',
      'Finished 9 tests in Ns: 4 PASS, 0 WARN, 5 FAIL, 0 ERROR, 0 SKIP',
      '  unique_orders_id: Got 1 result, configured to fail if != 0',
      '  not_null_orders_customer_id: Got 1 result, configured to fail if != 0',
      '  relationships_orders_customer_id__customer_id__ref_customers_: Got 1 result, configured to fail if != 0',
      '  accepted_values_orders_status__paid__open: Got 1 result, configured to fail if != 0',
      '  expression_is_true_orders_amount___1: Got 1 result, configured to fail if != 0',
    ]);
    const results = JSON.parse(readFileSync(join(dir, 'target/run_results.json'), 'utf8')) as { results: Array<{ unique_id: string; status: string; failures: number }> };
    expect(results.results.find((x) => x.unique_id === 'test.shop.unique_orders_id')).toMatchObject({ status: 'fail', failures: 1 });
    expect(results.results.find((x) => x.unique_id === 'test.shop.not_null_orders_id')).toMatchObject({ status: 'pass', failures: 0 });
  });

  it('severity, warn_if/error_if, where and store_failures', async () => {
    const dir = project(`version: 2
models:
  - name: orders
    columns:
      - name: id
        data_tests:
          - unique: { config: { severity: warn } }
      - name: status
        data_tests:
          - accepted_values: { values: [paid, open], where: "customer_id is not null" }
      - name: customer_id
        data_tests:
          - not_null: { error_if: ">= 2", warn_if: ">= 1", store_failures: true }
`);
    expect((await smelter(['run'], { projectDir: dir })).code).toBe(0);
    const r = await smelter(['test', '--threads', '1'], { projectDir: dir });
    expect(r.code).toBe(0);
    expect(withoutTimings(r.stdout)).toEqual([
      'Running 3 tests with 1 thread',
      '1 of 3 WARN 1 unique_orders_id ............................. [WARN 1 in Ns]',
      '2 of 3 PASS accepted_values_orders_status__paid__open ...... [PASS in Ns]',
      '3 of 3 WARN 1 not_null_orders_customer_id .................. [WARN 1 in Ns]',
      'Finished 3 tests in Ns: 1 PASS, 2 WARN, 0 FAIL, 0 ERROR, 0 SKIP',
      '  warning: unique_orders_id: Got 1 result, configured to warn if != 0',
      '  warning: not_null_orders_customer_id: Got 1 result, configured to warn if >= 1',
    ]);
    expect(await queryDuckDB(join(dir, 'target/dev.duckdb'), 'select id, status from main_dbt_test__audit.not_null_orders_customer_id')).toEqual([{ id: 3, status: 'lost' }]);
  });

  it('runs {% test %} macros and singular tests; a model selected brings its tests; --exclude and test_type narrow them', async () => {
    const dir = project(
      `version: 2
models:
  - name: orders
    columns:
      - name: amount
        data_tests:
          - at_most: { limit_value: 6 }
`,
      {
        'macros/tests.sql': "{% test at_most(model, column_name, limit_value) %}\nselect * from {{ model }} where {{ column_name }} > {{ limit_value }}\n{% endtest %}\n",
        'data_tests/no_open_orders_of_unknown_customers.sql':
          "{{ config(severity='error') }}\nselect o.* from {{ ref('orders') }} o left join {{ ref('customers') }} c using (customer_id) where c.customer_id is null and o.status = 'open'\n",
        'data_tests/no_negative_amounts.sql': "select * from {{ ref('orders') }} where amount < 0\n",
      },
    );
    expect((await smelter(['run'], { projectDir: dir })).code).toBe(0);
    const all = await smelter(['test', '--threads', '1'], { projectDir: dir });
    expect(withoutTimings(all.stdout).slice(1, 4)).toEqual([
      '1 of 3 FAIL 1 at_most_orders_amount__6 ..................... [FAIL 1 in Ns]',
      '2 of 3 PASS no_negative_amounts ............................ [PASS in Ns]',
      '3 of 3 PASS no_open_orders_of_unknown_customers ............ [PASS in Ns]',
    ]);
    const ls = async (...args: string[]) => (await smelter(['ls', ...args], { projectDir: dir })).stdout.trim().split('\n');
    expect(await ls('--select', 'customers')).toEqual(['customers', 'no_open_orders_of_unknown_customers']);
    expect(await ls('--select', 'test_type:singular')).toEqual(['no_negative_amounts', 'no_open_orders_of_unknown_customers']);
    expect(await ls('--select', 'orders', '--exclude', 'customers')).toEqual(['orders', 'at_most_orders_amount__6', 'no_negative_amounts']);
  });

  it('a bad declaration is one clear error with file and line, exit 2, and nothing runs', async () => {
    const cases: Array<[string, string]> = [
      ['      - name: id\n        data_tests: [uniqe]\n', "models/schema.yml:6:22: unknown test 'uniqe' (did you mean unique?)"],
      ['      - name: status\n        data_tests:\n          - accepted_values: { valuez: [a] }\n', "models/schema.yml:7:32: accepted_values: unknown argument 'valuez' (did you mean values?)"],
      ['      - name: status\n        data_tests:\n          - relationships: { field: id }\n', 'models/schema.yml:7:13: relationships needs to'],
      ['      - name: id\n        data_tests:\n          - unique: { severity: fatal }\n', 'models/schema.yml:7:23: unique: severity must be error or warn'],
    ];
    for (const [column, message] of cases) {
      const dir = project(`version: 2\nmodels:\n  - name: orders\n    columns:\n${column}`);
      const r = await smelter(['test'], { projectDir: dir });
      expect({ code: r.code, stderr: r.stderr.trim() }).toEqual({ code: 2, stderr: `error: ${message}` });
    }
  });
});

describe('dbt test names', () => {
  it('joins the arguments, and hashes a name of 64 characters or more', () => {
    expect(synthesizeTestName('unique', 'fct_loans', { column_name: 'loan_id', model: "{{ ref('fct_loans') }}" })).toEqual({
      full: 'unique_fct_loans_loan_id',
      short: 'unique_fct_loans_loan_id',
    });
    const full = 'accepted_values_dim_member_party__Democrat__Republican__Independent';
    expect(synthesizeTestName('accepted_values', 'dim_member', { column_name: 'party', values: ['Democrat', 'Republican', 'Independent'] })).toEqual({
      full,
      short: `accepted_values_dim_member_${createHash('md5').update(full).digest('hex')}`,
    });
    expect(synthesizeTestName('source_not_null', 'raw_orders', { column_name: 'order-id' })).toEqual({ full: 'source_not_null_raw_orders_order_id', short: 'source_not_null_raw_orders_order_id' });
  });
});
