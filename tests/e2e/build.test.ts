import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { queryDuckDB, smelter, withoutTimings } from '../helpers/cli.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * `smelter build` (SPEC §6, §8): seeds, models and tests in graph order; a table, incremental or
 * scd2 model is audited — its tests run on the new contents before it is published — and a failure
 * leaves the previous data and state exactly as they were, and skips what reads it.
 */

const PROJECT = 'name: shop\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }\n';
const SOURCES = "version: 2\nsources:\n  - name: landing\n    external_location: data/orders.csv\n    tables:\n      - name: orders\n";
const SCHEMA = `version: 2
models:
  - name: orders
    columns:
      - name: id
        data_tests: [unique]
  - name: lake_orders
    columns:
      - name: id
        data_tests: [unique]
  - name: order_count
    columns:
      - name: n
        data_tests:
          - expression_is_true: { expression: "< 100" }
`;

function project(): string {
  return writeTempProject({
    'project.yml': PROJECT,
    'models/sources.yml': SOURCES,
    'models/schema.yml': SCHEMA,
    'models/orders.sql': "{{ config(materialized='incremental', watermark='id', incremental_strategy='append') }}\nselect id, amount from {{ source('landing', 'orders') }}\n{% if is_incremental() %}where id > {{ watermark() }}{% endif %}\n",
    'models/lake_orders.sql': "{{ config(materialized='table', external=true) }}\nselect id, amount from {{ source('landing', 'orders') }}\n",
    'models/order_count.sql': "select count(*) as n from {{ ref('orders') }}\n",
    'models/big_orders.sql': "select * from {{ ref('orders') }} where amount > 10\n",
    'seeds/regions.csv': 'region\nnorth\nsouth\n',
    'data/orders.csv': 'id,amount\n1,5\n2,20\n',
  });
}

const land = (dir: string, csv: string) => writeFileSync(join(dir, 'data/orders.csv'), csv);
const query = (dir: string, sql: string) => queryDuckDB(join(dir, 'target/dev.duckdb'), sql);
const lakeFiles = (dir: string) => (readdirSync(join(dir, 'target/lake/main/lake_orders')) as string[]).sort();

describe('smelter build', () => {
  it('builds seeds, models and tests in graph order, each model after its tests pass', async () => {
    const dir = project();
    const r = await smelter(['build'], { projectDir: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(withoutTimings(r.stdout)).toEqual([
      'Running 8 nodes with 1 thread',
      '1 of 8 OK seed main.regions ................................ [2 rows in Ns]',
      '2 of 8 OK table main.lake_orders ........................... [2 rows in Ns]',
      '3 of 8 OK incremental main.orders .......................... [2 rows in Ns]',
      '4 of 8 PASS unique_lake_orders_id .......................... [PASS in Ns]',
      '5 of 8 PASS unique_orders_id ............................... [PASS in Ns]',
      '6 of 8 OK view main.big_orders ............................. [OK in Ns]',
      '7 of 8 OK view main.order_count ............................ [OK in Ns]',
      '8 of 8 PASS expression_is_true_order_count_n___100 ......... [PASS in Ns]',
      'Finished 8 nodes in Ns: 5 OK, 3 PASS, 0 WARN, 0 FAIL, 0 ERROR, 0 SKIP',
    ]);
  });

  it('a failing test keeps the previous data and state of an incremental and an external model, and skips what reads them', async () => {
    const dir = project();
    expect((await smelter(['build'], { projectDir: dir })).code).toBe(0);
    const stateBefore = await query(dir, 'select table_name, version, last_processed_value, rows_total from "_smelter"."state" order by 1');
    const filesBefore = lakeFiles(dir);

    // Id 3 twice: the increment and the rebuilt external table would break unique.
    land(dir, 'id,amount\n1,5\n2,20\n3,30\n3,31\n');
    const r = await smelter(['build', '--threads', '1'], { projectDir: dir });
    expect(r.code).toBe(1);
    expect(withoutTimings(r.stdout)).toEqual([
      'Running 8 nodes with 1 thread',
      '1 of 8 OK seed main.regions ................................ [2 rows in Ns]',
      '2 of 8 ERROR table main.lake_orders ........................ [ERROR in Ns]',
      '3 of 8 FAIL 1 unique_lake_orders_id ........................ [FAIL 1 in Ns]',
      '4 of 8 ERROR incremental main.orders ....................... [ERROR in Ns]',
      '5 of 8 FAIL 1 unique_orders_id ............................. [FAIL 1 in Ns]',
      '6 of 8 SKIP view main.order_count .......................... [SKIP]',
      '7 of 8 SKIP expression_is_true_order_count_n___100 ......... [SKIP]',
      '8 of 8 SKIP view main.big_orders ........................... [SKIP]',
      'Finished 8 nodes in Ns: 1 OK, 0 PASS, 0 WARN, 2 FAIL, 2 ERROR, 3 SKIP',
      '  lake_orders: models/lake_orders.sql: lake_orders was not published: its test unique_lake_orders_id failed',
      '  unique_lake_orders_id: Got 1 result, configured to fail if != 0',
      '  orders: models/orders.sql: orders was not published: its test unique_orders_id failed',
      '  unique_orders_id: Got 1 result, configured to fail if != 0',
    ]);
    expect(await query(dir, 'select id, amount from main.orders order by id')).toEqual([
      { id: '1', amount: '5' },
      { id: '2', amount: '20' },
    ]);
    expect(await query(dir, 'select count(*) as n from main.lake_orders')).toEqual([{ n: '2' }]);
    expect(await query(dir, 'select table_name, version, last_processed_value, rows_total from "_smelter"."state" order by 1')).toEqual(stateBefore);
    expect(lakeFiles(dir)).toEqual(filesBefore);
    expect(existsSync(join(dir, 'target/lake/.smelter/staging')) ? readdirSync(join(dir, 'target/lake/.smelter/staging'), { recursive: true }).filter((f) => String(f).endsWith('.parquet')) : []).toEqual([]);

    // Fixed upstream: the same batch goes through.
    land(dir, 'id,amount\n1,5\n2,20\n3,30\n');
    expect((await smelter(['build'], { projectDir: dir })).code).toBe(0);
    expect(await query(dir, 'select count(*) as n from main.orders')).toEqual([{ n: '3' }]);
  });

  it('audits an external incremental model on the files it would publish, and a day with no new rows', async () => {
    const dir = writeTempProject({
      'project.yml': PROJECT,
      'models/sources.yml': SOURCES,
      'models/schema.yml': 'version: 2\nmodels:\n  - name: lake_inc\n    columns:\n      - name: id\n        data_tests: [unique]\n',
      'models/lake_inc.sql':
        "{{ config(materialized='incremental', external=true, watermark='id', incremental_strategy='append', partition_by=['amount']) }}\nselect id, amount from {{ source('landing', 'orders') }}\n{% if is_incremental() %}where id > {{ watermark() }}{% endif %}\n",
      'data/orders.csv': 'id,amount\n1,5\n2,20\n',
    });
    const build = async () => withoutTimings((await smelter(['build'], { projectDir: dir })).stdout).slice(1, 3);
    expect(await build()).toEqual([
      '1 of 2 OK incremental main.lake_inc ........................ [2 rows in Ns]',
      '2 of 2 PASS unique_lake_inc_id ............................. [PASS in Ns]',
    ]);
    // Nothing new: nothing to publish, nothing to audit.
    expect(await build()).toEqual([
      '1 of 2 OK incremental main.lake_inc ........................ [0 rows in Ns]',
      '2 of 2 PASS unique_lake_inc_id ............................. [PASS in Ns]',
    ]);
    // Id 3 twice: the audit reads the committed files plus the staged ones, and the day is refused.
    land(dir, 'id,amount\n1,5\n2,20\n3,7\n3,8\n');
    const refused = await smelter(['build'], { projectDir: dir });
    expect(refused.code).toBe(1);
    expect(withoutTimings(refused.stdout).slice(1, 3)).toEqual([
      '1 of 2 ERROR incremental main.lake_inc ..................... [ERROR in Ns]',
      '2 of 2 FAIL 1 unique_lake_inc_id ........................... [FAIL 1 in Ns]',
    ]);
    expect(await query(dir, 'select count(*) as n from main.lake_inc')).toEqual([{ n: '2' }]);
    land(dir, 'id,amount\n1,5\n2,20\n3,7\n');
    expect(await build()).toEqual([
      '1 of 2 OK incremental main.lake_inc ........................ [1 row in Ns]',
      '2 of 2 PASS unique_lake_inc_id ............................. [PASS in Ns]',
    ]);
    expect(await query(dir, 'select count(*) as n from main.lake_inc')).toEqual([{ n: '3' }]);
  });

  it('run does not test, and test reads what is published', async () => {
    const dir = project();
    land(dir, 'id,amount\n1,5\n1,6\n');
    expect((await smelter(['run'], { projectDir: dir })).code).toBe(0);
    const tested = await smelter(['test', '--select', 'orders'], { projectDir: dir });
    expect(tested.code).toBe(1);
    expect(withoutTimings(tested.stdout)).toContain('  unique_orders_id: Got 1 result, configured to fail if != 0');
  });
});
