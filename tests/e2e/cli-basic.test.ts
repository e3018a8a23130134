/**
 * The `basic` fixture end to end: seed, run and compile with the built CLI, then the exact rows of
 * every relation, the compiled SQL, and the artifacts (SPEC §2, §3, §8).
 *
 * One copy is seeded and run once (beforeAll) and shared by the tests that only read it; tests that
 * change files or need another working directory take their own copy.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  copyFixture,
  execDuckDB,
  lines,
  listFiles,
  queryDuckDB,
  readJson,
  readText,
  removeCopy,
  smelter,
  withoutTimings,
  writeText,
  type CliResult,
} from '../helpers/cli.js';

const copies: string[] = [];
afterAll(() => copies.forEach(removeCopy));

/** SHOP_LABEL is read by env_var() in order_facts; the tests decide whether it is set. */
const ENV = { SHOP_LABEL: undefined };

/** A copy of `basic` with its Parquet source written (the fixture holds no binary files). */
async function basicCopy(): Promise<string> {
  const dir = copyFixture('basic');
  copies.push(dir);
  const parquet = join(dir, 'data', 'payments.parquet').replaceAll("'", "''");
  await execDuckDB(
    ':memory:',
    `COPY (SELECT * FROM (VALUES (1, 'card'), (4, 'cash'), (5, 'card')) t(order_id, method)) TO '${parquet}' (FORMAT parquet)`,
  );
  return dir;
}

const RUN_LINES = [
  'Running 7 models with 1 thread',
  'OK hook on-run-start.1 [Ns]',
  '1 of 7 OK view staging.stg_customers ....................... [OK in Ns]',
  '2 of 7 OK view staging.stg_payments ........................ [OK in Ns]',
  '3 of 7 OK view staging.stg_orders .......................... [OK in Ns]',
  '4 of 7 OK table reporting.revenue_by_month ................. [2 rows in Ns]',
  '5 of 7 OK view gold.order_facts ............................ [OK in Ns]',
  '6 of 7 OK table gold.customer_revenue ...................... [3 rows in Ns]',
  '7 of 7 OK view gold.top_customers .......................... [OK in Ns]',
  'Finished 7 models in Ns: 7 OK, 0 ERROR, 0 SKIP',
];

describe('basic: seed, run, compile', () => {
  let dir: string;
  let db: string;
  let seed: CliResult;
  let run: CliResult;

  beforeAll(async () => {
    dir = await basicCopy();
    db = join(dir, 'target', 'dev.duckdb');
    // Run in the project directory; running from elsewhere is tested on its own below.
    seed = await smelter(['seed', '--threads', '1'], { cwd: dir, env: ENV });
    run = await smelter(['run', '--threads', '1'], { cwd: dir, env: ENV });
  });

  it('seed loads the CSV seed and prints one line per seed and a summary', () => {
    expect({ code: seed.code, stderr: seed.stderr, stdout: withoutTimings(seed.stdout) }).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        'Running 1 seed with 1 thread',
        'OK hook on-run-start.1 [Ns]',
        '1 of 1 OK seed main.countries .............................. [2 rows in Ns]',
        'Finished 1 seed in Ns: 1 OK, 0 ERROR, 0 SKIP',
      ],
    });
  });

  it('run builds every enabled, non-ephemeral model in graph order', () => {
    expect({ code: run.code, stderr: run.stderr, stdout: withoutTimings(run.stdout) }).toEqual({ code: 0, stderr: '', stdout: RUN_LINES });
  });

  it('creates exactly the expected relations: schema and alias config, no ephemeral or disabled models', async () => {
    expect(
      await queryDuckDB(db, "SELECT table_schema, table_name, table_type FROM information_schema.tables ORDER BY ALL"),
    ).toEqual([
      { table_schema: 'gold', table_name: 'customer_revenue', table_type: 'BASE TABLE' },
      { table_schema: 'gold', table_name: 'order_facts', table_type: 'VIEW' },
      { table_schema: 'gold', table_name: 'top_customers', table_type: 'VIEW' },
      { table_schema: 'main', table_name: 'countries', table_type: 'BASE TABLE' },
      { table_schema: 'main', table_name: 'hook_log', table_type: 'BASE TABLE' },
      { table_schema: 'main', table_name: 'raw_orders', table_type: 'BASE TABLE' },
      { table_schema: 'reporting', table_name: 'revenue_by_month', table_type: 'BASE TABLE' },
      { table_schema: 'staging', table_name: 'stg_customers', table_type: 'VIEW' },
      { table_schema: 'staging', table_name: 'stg_orders', table_type: 'VIEW' },
      { table_schema: 'staging', table_name: 'stg_payments', table_type: 'VIEW' },
    ]);
  });

  it('the seed keeps its column_types', async () => {
    expect(await queryDuckDB(db, 'SELECT code, name, vat_rate, typeof(code) AS t_code, typeof(vat_rate) AS t_vat FROM main.countries ORDER BY code')).toEqual([
      { code: '01', name: 'Netherlands', vat_rate: '0.21', t_code: 'VARCHAR', t_vat: 'DECIMAL(4,2)' },
      { code: '02', name: 'Germany', vat_rate: '0.19', t_code: 'VARCHAR', t_vat: 'DECIMAL(4,2)' },
    ]);
  });

  it('a view over a source created by on-run-start', async () => {
    expect(await queryDuckDB(db, 'SELECT order_id, customer_id, amount, status, ordered_on FROM staging.stg_orders ORDER BY order_id')).toEqual([
      { order_id: 1, customer_id: 101, amount: '25.00', status: 'paid', ordered_on: '2024-01-05' },
      { order_id: 2, customer_id: 102, amount: '5.00', status: 'paid', ordered_on: '2024-01-06' },
      { order_id: 3, customer_id: 101, amount: '40.00', status: 'refunded', ordered_on: '2024-01-07' },
      { order_id: 4, customer_id: 103, amount: '60.00', status: 'paid', ordered_on: '2024-02-01' },
      { order_id: 5, customer_id: 102, amount: '15.50', status: 'paid', ordered_on: '2024-02-03' },
    ]);
  });

  it('a table over two chained ephemerals, a view, a seed and nested macros', async () => {
    expect(await queryDuckDB(db, 'SELECT * FROM gold.customer_revenue ORDER BY customer_id')).toEqual([
      { customer_id: '101', name: 'Ann', country: 'Netherlands', revenue: '25.00', revenue_cents: '2500', big_orders: '1' },
      { customer_id: '102', name: 'Bob', country: 'Germany', revenue: '15.50', revenue_cents: '1550', big_orders: '1' },
      { customer_id: '103', name: 'Cid', country: 'Netherlands', revenue: '60.00', revenue_cents: '6000', big_orders: '1' },
    ]);
  });

  it('a table with {% for %}, schema and alias', async () => {
    expect(await queryDuckDB(db, 'SELECT * FROM reporting.revenue_by_month ORDER BY month')).toEqual([
      { month: '2024-01', paid_amount: '30.00', refunded_amount: '40.00', orders: '3' },
      { month: '2024-02', paid_amount: '75.50', refunded_amount: '0.00', orders: '2' },
    ]);
  });

  it('a view ordered after its -- depends_on ref, with {{ this }} and a target var', async () => {
    expect(await queryDuckDB(db, 'SELECT * FROM gold.top_customers ORDER BY revenue DESC')).toEqual([
      { name: 'Cid', revenue: '60.00', built_as: '"gold"."top_customers"' },
      { name: 'Ann', revenue: '25.00', built_as: '"gold"."top_customers"' },
    ]);
  });

  it('pre_hook and post_hook ran in the model (post_hook rendered {{ this }})', async () => {
    expect(await queryDuckDB(db, 'SELECT * FROM main.hook_log')).toEqual([{ relation: '"gold"."customer_revenue"', phase: 'post' }]);
  });

  it('run_results.json: one result per built model, with status, timing and rows', () => {
    const results = readJson(join(dir, 'target', 'run_results.json'));
    expect(Object.keys(results).sort()).toEqual(['args', 'elapsed_time', 'metadata', 'results']);
    const byId = [...results.results].sort((a, b) => a.unique_id.localeCompare(b.unique_id));
    expect(byId.map((r: any) => [r.unique_id, r.status, r.adapter_response, r.relation_name])).toEqual([
      ['model.shop.customer_revenue', 'success', { rows_affected: 3 }, 'gold.customer_revenue'],
      ['model.shop.monthly_revenue', 'success', { rows_affected: 2 }, 'reporting.revenue_by_month'],
      ['model.shop.order_facts', 'success', {}, 'gold.order_facts'],
      ['model.shop.stg_customers', 'success', {}, 'staging.stg_customers'],
      ['model.shop.stg_orders', 'success', {}, 'staging.stg_orders'],
      ['model.shop.stg_payments', 'success', {}, 'staging.stg_payments'],
      ['model.shop.top_customers', 'success', {}, 'gold.top_customers'],
    ]);
    for (const r of results.results) {
      expect(r.timing.map((t: any) => t.name)).toEqual(['compile', 'execute']);
      for (const t of r.timing) {
        expect(new Date(t.started_at).toISOString()).toBe(t.started_at);
        expect(t.completed_at >= t.started_at).toBe(true);
      }
      expect(typeof r.execution_time).toBe('number');
      expect(r.execution_time).toBeGreaterThanOrEqual(0);
    }
    expect(typeof results.elapsed_time).toBe('number');
    expect(results.metadata.dbt_schema_version).toBe('https://schemas.getdbt.com/dbt/run-results/v6.json');
  });

  it('compile renders every model to target/compiled/<original path>', async () => {
    const compile = await smelter(['compile'], { cwd: dir, env: ENV });
    expect({ code: compile.code, stderr: compile.stderr, stdout: lines(compile.stdout) }).toEqual({
      code: 0,
      stderr: '',
      stdout: ['Compiled 9 models to target/compiled/'],
    });
    expect(listFiles(join(dir, 'target', 'compiled'))).toEqual([
      'models/gold/customer_revenue.sql',
      'models/gold/marts/order_facts.sql',
      'models/gold/marts/top_customers.sql',
      'models/gold/monthly_revenue.sql',
      'models/staging/int_big_orders.sql',
      'models/staging/int_paid_orders.sql',
      'models/staging/stg_customers.sql',
      'models/staging/stg_orders.sql',
      'models/staging/stg_payments.sql',
    ]);
    const compiled = (path: string) => readText(join(dir, 'target', 'compiled', path));
    expect(compiled('models/gold/customer_revenue.sql')).toBe(
      [
        '',
        'WITH __smelter_cte__int_paid_orders AS (',
        'select order_id, customer_id, amount, ordered_on',
        'from "staging"."stg_orders"',
        "where status = 'paid'",
        '),',
        '__smelter_cte__int_big_orders AS (',
        'select * from __smelter_cte__int_paid_orders where amount >= 10',
        ')',
        'select',
        '    c.customer_id,',
        '    c.name,',
        '    k.name as country,',
        '    sum(o.amount) as revenue,',
        '    cast(round(sum(o.amount) * 100) as bigint) as revenue_cents,',
        '    count(*) as big_orders',
        'from __smelter_cte__int_big_orders o',
        'join "staging"."stg_customers" c on c.customer_id = o.customer_id',
        'join "main"."countries" k on k.code = c.country_code',
        'group by all',
        '',
      ].join('\n'),
    );
    expect(compiled('models/gold/marts/order_facts.sql')).toBe(
      [
        '',
        'WITH __smelter_cte__int_paid_orders AS (',
        'select order_id, customer_id, amount, ordered_on',
        'from "staging"."stg_orders"',
        "where status = 'paid'",
        ')',
        'select',
        '    o.order_id,',
        '    cast(round(o.amount * 1000) as bigint) as amount_milli,',
        "    '#' || o.order_id || ' EUR' as order_label,",
        "    'dev' as env,",
        "    'all' as region,",
        '    0 as discount,',
        "    'no-label' as shop_label,",
        '    p.method',
        'from __smelter_cte__int_paid_orders o',
        'left join "staging"."stg_payments" p on p.order_id = o.order_id',
        '',
      ].join('\n'),
    );
    expect(compiled('models/gold/monthly_revenue.sql')).toBe(
      [
        '',
        'select',
        "    strftime(ordered_on, '%Y-%m') as month,",
        "    sum(case when status = 'paid' then amount else 0 end) as paid_amount,",
        "    sum(case when status = 'refunded' then amount else 0 end) as refunded_amount,",
        '    count(*) as orders',
        'from "staging"."stg_orders"',
        'group by 1',
        '',
      ].join('\n'),
    );
    expect(compiled('models/gold/marts/top_customers.sql')).toBe(
      [
        '-- depends_on: "gold"."customer_revenue"',
        '',
        `select name, revenue, '"gold"."top_customers"' as built_as`,
        'from gold.customer_revenue',
        'order by revenue desc',
        'limit 2',
        '',
      ].join('\n'),
    );
    expect(compiled('models/staging/int_big_orders.sql')).toBe(
      [
        '',
        'WITH __smelter_cte__int_paid_orders AS (',
        'select order_id, customer_id, amount, ordered_on',
        'from "staging"."stg_orders"',
        "where status = 'paid'",
        ')',
        'select * from __smelter_cte__int_paid_orders where amount >= 10',
        '',
      ].join('\n'),
    );
    expect(compiled('models/staging/stg_orders.sql')).toBe(
      'select\n    order_id,\n    customer_id,\n    amount,\n    status,\n    ordered_on\nfrom "main"."raw_orders"\n',
    );
  });

  it('manifest.json: every node with unique_id, resource_type, depends_on and checksum', () => {
    const manifest = readJson(join(dir, 'target', 'manifest.json'));
    expect(Object.keys(manifest).sort()).toEqual(['child_map', 'diagnostics', 'disabled', 'exposures', 'groups', 'macros', 'metadata', 'metrics', 'nodes', 'parent_map', 'saved_queries', 'semantic_models', 'sources', 'unit_tests']);
    const summary = (n: any) => ({ resource_type: n.resource_type, depends_on: n.depends_on });
    expect(Object.fromEntries(Object.entries(manifest.nodes).map(([id, n]: [string, any]) => [id, summary(n)]))).toEqual({
      'model.shop.customer_revenue': {
        resource_type: 'model',
        depends_on: {
          nodes: ['model.shop.int_big_orders', 'model.shop.stg_customers', 'seed.shop.countries'],
          macros: ['macro.shop.amount_cents', 'macro.shop.cents'],
        },
      },
      'model.shop.int_big_orders': { resource_type: 'model', depends_on: { nodes: ['model.shop.int_paid_orders'], macros: [] } },
      'model.shop.int_paid_orders': { resource_type: 'model', depends_on: { nodes: ['model.shop.stg_orders'], macros: [] } },
      'model.shop.monthly_revenue': { resource_type: 'model', depends_on: { nodes: ['model.shop.stg_orders'], macros: [] } },
      'model.shop.order_facts': {
        resource_type: 'model',
        depends_on: { nodes: ['model.shop.int_paid_orders', 'model.shop.stg_payments'], macros: ['macro.shop.cents', 'macro.shop.label'] },
      },
      'model.shop.stg_customers': { resource_type: 'model', depends_on: { nodes: ['source.shop.files.customers'], macros: [] } },
      'model.shop.stg_orders': { resource_type: 'model', depends_on: { nodes: ['source.shop.raw.orders'], macros: [] } },
      'model.shop.stg_payments': { resource_type: 'model', depends_on: { nodes: ['source.shop.files.payments'], macros: [] } },
      'model.shop.top_customers': { resource_type: 'model', depends_on: { nodes: ['model.shop.customer_revenue'], macros: [] } },
      'seed.shop.countries': { resource_type: 'seed', depends_on: { nodes: [], macros: [] } },
    });
    for (const [id, node] of Object.entries(manifest.nodes) as Array<[string, any]>) {
      expect(node.unique_id).toBe(id);
      const sha = createHash('sha256').update(readFileSync(join(dir, node.original_file_path))).digest('hex');
      expect(node.checksum).toEqual({ name: 'sha256', checksum: sha });
    }
    expect(Object.keys(manifest.sources).sort()).toEqual(['source.shop.files.customers', 'source.shop.files.payments', 'source.shop.raw.orders']);
    expect(manifest.sources['source.shop.raw.orders']).toMatchObject({
      unique_id: 'source.shop.raw.orders',
      resource_type: 'source',
      source_name: 'raw',
      schema: 'main',
      identifier: 'raw_orders',
      external_location: null,
    });
    expect(Object.keys(manifest.macros).sort()).toEqual(['macro.shop.amount_cents', 'macro.shop.cents', 'macro.shop.label']);
    expect(manifest.macros['macro.shop.amount_cents'].depends_on).toEqual({ macros: ['macro.shop.cents'] });
    expect(Object.keys(manifest.disabled).sort()).toEqual(['model.shop.legacy_report', 'model.shop.old_export']);
    expect(manifest.parent_map['model.shop.top_customers']).toEqual(['model.shop.customer_revenue']);
    expect(manifest.child_map['model.shop.stg_orders']).toEqual(['model.shop.int_paid_orders', 'model.shop.monthly_revenue']);
    expect(manifest.diagnostics).toEqual([]);
  });

  it('manifest.json: config() > YAML properties > folders; tags accumulate, meta from YAML', () => {
    const nodes = readJson(join(dir, 'target', 'manifest.json')).nodes;
    const pick = (id: string) => {
      const { materialized, schema, alias, tags, enabled } = nodes[id].config;
      return { materialized, schema, alias, tags, enabled };
    };
    expect(pick('model.shop.monthly_revenue')).toEqual({ materialized: 'table', schema: 'reporting', alias: 'revenue_by_month', tags: ['gold'], enabled: true });
    expect(pick('model.shop.order_facts')).toEqual({ materialized: 'view', schema: 'gold', alias: 'order_facts', tags: ['gold', 'marts'], enabled: true });
    expect(pick('model.shop.top_customers')).toEqual({ materialized: 'view', schema: 'gold', alias: 'top_customers', tags: ['gold', 'marts', 'top'], enabled: true });
    expect(pick('model.shop.stg_payments')).toEqual({ materialized: 'view', schema: 'staging', alias: 'stg_payments', tags: ['staging', 'payments'], enabled: true });
    expect(pick('model.shop.int_paid_orders')).toEqual({ materialized: 'ephemeral', schema: 'staging', alias: 'int_paid_orders', tags: ['staging'], enabled: true });
    expect(nodes['model.shop.customer_revenue'].config.pre_hook).toEqual(['create table if not exists main.hook_log (relation varchar, phase varchar)']);
    expect(nodes['model.shop.customer_revenue'].config.post_hook).toEqual(["insert into main.hook_log values ('{{ this }}', 'post')"]);
    expect(nodes['model.shop.stg_payments'].config.meta).toEqual({ owner: 'finance' });
    expect(nodes['seed.shop.countries'].config.column_types).toEqual({ code: 'VARCHAR', vat_rate: 'DECIMAL(4,2)' });
  });

  // Last: it changes the database the tests above read.
  it('a second run rebuilds the same rows (tables replaced, not appended)', async () => {
    const again = await smelter(['run', '--threads', '1'], { cwd: dir, env: ENV });
    expect({ code: again.code, stdout: withoutTimings(again.stdout) }).toEqual({ code: 0, stdout: RUN_LINES });
    expect(await queryDuckDB(db, 'SELECT customer_id, revenue FROM gold.customer_revenue ORDER BY customer_id')).toEqual([
      { customer_id: '101', revenue: '25.00' },
      { customer_id: '102', revenue: '15.50' },
      { customer_id: '103', revenue: '60.00' },
    ]);
    expect(await queryDuckDB(db, 'SELECT count(*)::INT AS n FROM main.hook_log')).toEqual([{ n: 2 }]);
  });
});

describe('basic: vars and env vars', () => {
  it('--vars and environment variables change the compiled SQL', async () => {
    const dir = copyFixture('basic');
    copies.push(dir);
    const compile = await smelter(['compile', '--select', 'order_facts', 'int_big_orders', '--vars', '{region: eu, min_amount: 50}'], {
      cwd: dir,
      env: { SHOP_LABEL: 'acme' },
    });
    expect({ code: compile.code, stderr: compile.stderr, stdout: lines(compile.stdout) }).toEqual({
      code: 0,
      stderr: '',
      stdout: ['Compiled 2 models to target/compiled/'],
    });
    expect(listFiles(join(dir, 'target', 'compiled'))).toEqual(['models/gold/marts/order_facts.sql', 'models/staging/int_big_orders.sql']);
    const facts = readText(join(dir, 'target', 'compiled', 'models/gold/marts/order_facts.sql'));
    expect(lines(facts).slice(6, 15)).toEqual([
      'select',
      '    o.order_id,',
      '    cast(round(o.amount * 1000) as bigint) as amount_milli,',
      "    '#' || o.order_id || ' EUR' as order_label,",
      "    'dev' as env,",
      "    'eu' as region,",
      '    0 as discount,',
      "    'acme' as shop_label,",
      '    p.method',
    ]);
    expect(lines(readText(join(dir, 'target', 'compiled', 'models/staging/int_big_orders.sql'))).at(-1)).toBe(
      'select * from __smelter_cte__int_paid_orders where amount >= 50',
    );
  });

  it('--vars may not set a var project.yml does not declare (a var() default is not a declaration)', async () => {
    const dir = copyFixture('basic');
    copies.push(dir);
    const compile = await smelter(['compile', '--vars', '{discount: 5}'], { cwd: dir });
    expect({ code: compile.code, stdout: compile.stdout, stderr: lines(compile.stderr) }).toEqual({
      code: 2,
      stdout: '',
      stderr: ["error: --vars sets 'discount', which project.yml does not declare (declare it under vars: in project.yml)"],
    });
  });
});

describe('basic: macros that call ref()', () => {
  it('a ref() inside a project macro is a dependency of the model that calls the macro', async () => {
    const dir = copyFixture('basic');
    copies.push(dir);
    writeText(join(dir, 'macros', 'relations.sql'), "{% macro paid_orders() %}(select * from {{ ref('stg_orders') }} where status = 'paid'){% endmacro %}\n");
    writeText(join(dir, 'models', 'gold', 'paid_count.sql'), 'select count(*) as n from {{ paid_orders() }} p\n');
    const ls = await smelter(['ls', '--select', '+paid_count'], { projectDir: dir });
    expect({ code: ls.code, stderr: ls.stderr, stdout: lines(ls.stdout) }).toEqual({ code: 0, stderr: '', stdout: ['paid_count', 'stg_orders', 'raw.orders'] });
    const compile = await smelter(['compile', '--select', 'paid_count'], { cwd: dir });
    expect({ code: compile.code, stderr: compile.stderr }).toEqual({ code: 0, stderr: '' });
    expect(readText(join(dir, 'target', 'compiled', 'models', 'gold', 'paid_count.sql'))).toBe(
      `select count(*) as n from (select * from "staging"."stg_orders" where status = 'paid') p\n`,
    );
  });
});

describe('basic: commands that need no database', () => {
  it('ls writes nothing and compile does not create the database', async () => {
    const dir = copyFixture('basic');
    copies.push(dir);
    const ls = await smelter(['ls'], { projectDir: dir });
    expect(ls.code).toBe(0);
    expect(existsSync(join(dir, 'target'))).toBe(false);
    const compile = await smelter(['compile'], { projectDir: dir });
    expect(compile.code).toBe(0);
    expect(listFiles(join(dir, 'target')).filter((f) => !f.startsWith('compiled/'))).toEqual(['manifest.json']);
  });
});

describe('basic: relative paths belong to the project, not the working directory (SPEC §1)', () => {
  let dir: string;
  let run: CliResult;
  beforeAll(async () => {
    dir = await basicCopy();
    // From the repository root, as CI runs it: --project-dir points at the copy.
    await smelter(['seed'], { projectDir: dir, env: ENV });
    run = await smelter(['run', '--threads', '1'], { projectDir: dir, env: ENV });
  });

  it('run --project-dir from another directory builds every model', () => {
    expect({ code: run.code, stderr: run.stderr, stdout: withoutTimings(run.stdout) }).toEqual({ code: 0, stderr: '', stdout: RUN_LINES });
  });

  it('compile resolves a source external_location against the project directory', async () => {
    const compile = await smelter(['compile', '--select', 'stg_customers', 'stg_payments'], { projectDir: dir });
    expect({ code: compile.code, stdout: lines(compile.stdout) }).toEqual({
      code: 0,
      stdout: ['Compiled 2 models to target/compiled/'],
    });
    const compiled = (path: string) => readText(join(dir, 'target', 'compiled', path));
    expect(compiled('models/staging/stg_customers.sql')).toBe(
      [
        'select',
        '    customer_id,',
        '    name,',
        "    lpad(cast(country as varchar), 2, '0') as country_code",
        `from read_csv('${join(dir, 'data', 'customers.csv')}', union_by_name = true)`,
        '',
      ].join('\n'),
    );
    expect(compiled('models/staging/stg_payments.sql')).toBe(
      `select order_id, method from read_parquet('${join(dir, 'data', 'payments.parquet')}', union_by_name = true)\n`,
    );
  });

  it('views over file sources can be queried from any working directory', async () => {
    const db = join(dir, 'target', 'dev.duckdb');
    expect(await queryDuckDB(db, 'SELECT * FROM staging.stg_customers ORDER BY customer_id')).toEqual([
      { customer_id: '101', name: 'Ann', country_code: '01' },
      { customer_id: '102', name: 'Bob', country_code: '02' },
      { customer_id: '103', name: 'Cid', country_code: '01' },
    ]);
    expect(await queryDuckDB(db, 'SELECT * FROM gold.order_facts ORDER BY order_id')).toEqual([
      { order_id: 1, amount_milli: '25000', order_label: '#1 EUR', env: 'dev', region: 'all', discount: 0, shop_label: 'no-label', method: 'card' },
      { order_id: 2, amount_milli: '5000', order_label: '#2 EUR', env: 'dev', region: 'all', discount: 0, shop_label: 'no-label', method: null },
      { order_id: 4, amount_milli: '60000', order_label: '#4 EUR', env: 'dev', region: 'all', discount: 0, shop_label: 'no-label', method: 'cash' },
      { order_id: 5, amount_milli: '15500', order_label: '#5 EUR', env: 'dev', region: 'all', discount: 0, shop_label: 'no-label', method: 'card' },
    ]);
  });
});
