/**
 * Runtime failures (exit 1, SPEC §8): a model with a SQL error skips its descendants while an
 * independent branch still builds; --fail-fast stops the rest; a table that fails to rebuild keeps
 * its old rows (the model, its hooks and the replacement run in one transaction).
 *
 * The `run-failures` fixture, built with one thread (a deterministic order):
 *   customers -> customer_names -> customer_list
 *   orders -> orders_enriched (Binder Error) -> orders_report -> orders_dashboard (view)
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtureCopier, queryDuckDB, readJson, smelter, withoutTimings, writeText } from '../helpers/cli.js';

const copy = fixtureCopier('run-failures');

const ENRICHED_ERROR =
  'models/orders_enriched.sql: Binder Error: Referenced column "vat_rate" not found in FROM clause! Candidate bindings: "amount"' +
  ' (the statements are in target/run/models/orders_enriched.sql)';

const tables = (db: string) =>
  queryDuckDB(db, "SELECT table_name, table_type FROM information_schema.tables ORDER BY table_name");

describe.concurrent('a failing model', () => {
  it('is ERROR, its descendants SKIP, the independent branch builds; exit 1', async ({ expect }) => {
    const dir = copy();
    const run = await smelter(['run'], { projectDir: dir });
    expect({ code: run.code, stderr: run.stderr, stdout: withoutTimings(run.stdout) }).toEqual({
      code: 1,
      stderr: '',
      stdout: [
        'Running 7 models with 1 thread',
        '1 of 7 OK table main.customers ............................. [2 rows in Ns]',
        '2 of 7 OK table main.orders ................................ [3 rows in Ns]',
        '3 of 7 OK table main.customer_names ........................ [2 rows in Ns]',
        '4 of 7 ERROR table main.orders_enriched .................... [ERROR in Ns]',
        '5 of 7 SKIP table main.orders_report ....................... [SKIP]',
        '6 of 7 SKIP view main.orders_dashboard ..................... [SKIP]',
        '7 of 7 OK table main.customer_list ......................... [1 row in Ns]',
        'Finished 7 models in Ns: 4 OK, 1 ERROR, 2 SKIP',
        `  orders_enriched: ${ENRICHED_ERROR}`,
      ],
    });
    const db = join(dir, 'target', 'dev.duckdb');
    expect(await tables(db)).toEqual([
      { table_name: 'audit', table_type: 'BASE TABLE' },
      { table_name: 'customer_list', table_type: 'BASE TABLE' },
      { table_name: 'customer_names', table_type: 'BASE TABLE' },
      { table_name: 'customers', table_type: 'BASE TABLE' },
      { table_name: 'orders', table_type: 'BASE TABLE' },
    ]);
    expect(await queryDuckDB(db, 'SELECT * FROM customer_list')).toEqual([{ names: 'ANN, BOB' }]);

    const results = readJson(join(dir, 'target', 'run_results.json')).results;
    expect(results.map((r: any) => [r.unique_id, r.status, r.message, r.adapter_response])).toEqual([
      ['model.failures.customers', 'success', 'OK 2', { rows_affected: 2 }],
      ['model.failures.orders', 'success', 'OK 3', { rows_affected: 3 }],
      ['model.failures.customer_names', 'success', 'OK 2', { rows_affected: 2 }],
      ['model.failures.orders_enriched', 'error', ENRICHED_ERROR, {}],
      ['model.failures.orders_report', 'skipped', 'skipped because orders_enriched failed', {}],
      ['model.failures.orders_dashboard', 'skipped', 'skipped because orders_enriched failed', {}],
      ['model.failures.customer_list', 'success', 'OK 1', { rows_affected: 1 }],
    ]);
  });

  it('--fail-fast skips everything not yet started; exit 1', async ({ expect }) => {
    const dir = copy();
    const run = await smelter(['run', '--fail-fast'], { projectDir: dir });
    expect({ code: run.code, stderr: run.stderr, stdout: withoutTimings(run.stdout) }).toEqual({
      code: 1,
      stderr: '',
      stdout: [
        'Running 7 models with 1 thread',
        '1 of 7 OK table main.customers ............................. [2 rows in Ns]',
        '2 of 7 OK table main.orders ................................ [3 rows in Ns]',
        '3 of 7 OK table main.customer_names ........................ [2 rows in Ns]',
        '4 of 7 ERROR table main.orders_enriched .................... [ERROR in Ns]',
        '5 of 7 SKIP table main.orders_report ....................... [SKIP]',
        '6 of 7 SKIP view main.orders_dashboard ..................... [SKIP]',
        '7 of 7 SKIP table main.customer_list ....................... [SKIP]',
        'Finished 7 models in Ns: 3 OK, 1 ERROR, 3 SKIP',
        `  orders_enriched: ${ENRICHED_ERROR}`,
      ],
    });
    expect((await tables(join(dir, 'target', 'dev.duckdb'))).map((t) => t.table_name)).toEqual(['audit', 'customer_names', 'customers', 'orders']);
  });

  it('selecting around the failure builds the rest; exit 0', async ({ expect }) => {
    const dir = copy();
    const run = await smelter(['run', '--exclude', 'orders_enriched+'], { projectDir: dir });
    expect({ code: run.code, stdout: withoutTimings(run.stdout).at(-1) }).toEqual({ code: 0, stdout: 'Finished 4 models in Ns: 4 OK, 0 ERROR, 0 SKIP' });
  });

  it('a failing on-run-start hook runs no model and reports every selected model as skipped; exit 1', async ({ expect }) => {
    const dir = copy();
    writeText(
      join(dir, 'project.yml'),
      'name: failures\ntargets:\n  dev:\n    database: target/dev.duckdb\n    threads: 1\non-run-start:\n  - "select * from no_such_table"\n',
    );
    const run = await smelter(['run', '--select', 'customers+'], { projectDir: dir });
    const out = withoutTimings(run.stdout);
    expect({ code: run.code, first: out.slice(0, 2), last: out.slice(-2) }).toEqual({
      code: 1,
      first: ['Running 3 models with 1 thread', 'ERROR hook on-run-start.1 [Ns]'],
      last: [
        'Finished 3 models in Ns: 0 OK, 0 ERROR, 3 SKIP',
        '  error: project.yml: on-run-start.1 failed: Catalog Error: Table with name no_such_table does not exist! Did you mean "pg_tables"?',
      ],
    });
    expect(await tables(join(dir, 'target', 'dev.duckdb'))).toEqual([]);
  });
});

describe('a table that fails to rebuild', () => {
  it('keeps its old rows, and the statements of the failed build (hooks included) are rolled back', async () => {
    const dir = copy();
    const db = join(dir, 'target', 'dev.duckdb');
    const first = await smelter(['run', '--select', 'orders'], { projectDir: dir });
    expect({ code: first.code, stdout: withoutTimings(first.stdout) }).toEqual({
      code: 0,
      stdout: [
        'Running 1 model with 1 thread',
        '1 of 1 OK table main.orders ................................ [3 rows in Ns]',
        'Finished 1 model in Ns: 1 OK, 0 ERROR, 0 SKIP',
      ],
    });
    const before = [
      { order_id: 1, amount: '10.0' },
      { order_id: 2, amount: '20.0' },
      { order_id: 3, amount: '30.0' },
    ];
    expect(await queryDuckDB(db, 'SELECT * FROM orders ORDER BY order_id')).toEqual(before);
    expect(await queryDuckDB(db, 'SELECT * FROM audit')).toEqual([{ model: 'orders', phase: 'post' }]);

    // A binder error after a pre_hook that deletes the audit rows.
    writeText(
      join(dir, 'models', 'orders.sql'),
      '{{ config(pre_hook="delete from main.audit") }}\nselect order_id, amount, missing_column from (values (9, 90.0)) t(order_id, amount)\n',
    );
    const second = await smelter(['run', '--select', 'orders'], { projectDir: dir });
    expect({ code: second.code, stdout: withoutTimings(second.stdout) }).toEqual({
      code: 1,
      stdout: [
        'Running 1 model with 1 thread',
        '1 of 1 ERROR table main.orders ............................. [ERROR in Ns]',
        'Finished 1 model in Ns: 0 OK, 1 ERROR, 0 SKIP',
        '  orders: models/orders.sql: Binder Error: Referenced column "missing_column" not found in FROM clause! Candidate bindings: "amount" (the statements are in target/run/models/orders.sql)',
      ],
    });
    expect(await queryDuckDB(db, 'SELECT * FROM orders ORDER BY order_id')).toEqual(before);
    expect(await queryDuckDB(db, 'SELECT * FROM audit')).toEqual([{ model: 'orders', phase: 'post' }]);

    // An error raised while the new rows are being computed, after the pre_hook ran.
    writeText(
      join(dir, 'models', 'orders.sql'),
      "{{ config(pre_hook=\"delete from main.audit\") }}\nselect i as order_id, cast(case when i < 3 then '1' else 'x' end as integer) as amount from range(5) r(i)\n",
    );
    const third = await smelter(['run', '--select', 'orders'], { projectDir: dir });
    expect({ code: third.code, stdout: withoutTimings(third.stdout) }).toEqual({
      code: 1,
      stdout: [
        'Running 1 model with 1 thread',
        '1 of 1 ERROR table main.orders ............................. [ERROR in Ns]',
        'Finished 1 model in Ns: 0 OK, 1 ERROR, 0 SKIP',
        `  orders: models/orders.sql: Conversion Error: Could not convert string 'x' to INT32 (the statements are in target/run/models/orders.sql)`,
      ],
    });
    expect(await queryDuckDB(db, 'SELECT * FROM orders ORDER BY order_id')).toEqual(before);
    expect(await queryDuckDB(db, 'SELECT * FROM audit')).toEqual([{ model: 'orders', phase: 'post' }]);
    expect(existsSync(join(dir, 'target', 'run', 'models', 'orders.sql'))).toBe(true);
  });
});

describe('a table without hooks (a single statement) that fails to rebuild', () => {
  it('keeps its old rows', async () => {
    const dir = copy();
    const db = join(dir, 'target', 'dev.duckdb');
    expect((await smelter(['run', '--select', 'customers'], { projectDir: dir })).code).toBe(0);
    writeText(
      join(dir, 'models', 'customers.sql'),
      "select i as customer_id, cast(case when i < 1000 then 'n' || i else 'x' end as varchar)::integer as name from range(5000) r(i)\n",
    );
    const second = await smelter(['run', '--select', 'customers'], { projectDir: dir });
    expect({ code: second.code, summary: withoutTimings(second.stdout).slice(1, 3) }).toEqual({
      code: 1,
      summary: [
        '1 of 1 ERROR table main.customers .......................... [ERROR in Ns]',
        'Finished 1 model in Ns: 0 OK, 1 ERROR, 0 SKIP',
      ],
    });
    expect(await queryDuckDB(db, 'SELECT * FROM customers ORDER BY customer_id')).toEqual([
      { customer_id: 1, name: 'Ann' },
      { customer_id: 2, name: 'Bob' },
    ]);
  });
});
