/**
 * `smelter ls --select/--exclude` on the `basic` fixture: every method of SPEC §7, the graph
 * operators, union, intersection and exclusion, state:modified against an earlier manifest, and the
 * exit codes of bad selectors. ls parses only, so one copy serves every read-only case.
 *
 * The graph of `basic`:
 *   raw.orders -> stg_orders -> int_paid_orders (ephemeral) -> int_big_orders (ephemeral) -> customer_revenue -> top_customers (-- depends_on)
 *                 stg_orders -> monthly_revenue;  int_paid_orders -> order_facts
 *   files.customers -> stg_customers -> customer_revenue;  files.payments -> stg_payments -> order_facts
 *   countries (seed) -> customer_revenue
 */
import { cpSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, it } from 'vitest';
import { REPO_ROOT, fixtureCopier, editFile, lines, smelter, withoutTimings, writeText } from '../helpers/cli.js';
import { writeTempProject } from '../helpers/temp-project.js';

const copy = fixtureCopier('basic');
let dir: string;
beforeAll(() => {
  dir = copy();
});

const ALL_MODELS = [
  'customer_revenue',
  'int_big_orders',
  'int_paid_orders',
  'monthly_revenue',
  'order_facts',
  'stg_customers',
  'stg_orders',
  'stg_payments',
  'top_customers',
];
const ALL_SOURCES = ['files.customers', 'files.payments', 'raw.orders'];

/** ls args -> exact stdout lines (exit 0, nothing on stderr). Sorted by unique_id: models, seeds, sources. */
const CASES: ReadonlyArray<readonly [string, readonly string[], readonly string[]]> = [
  ['no selector: every enabled node', [], [...ALL_MODELS, 'countries', ...ALL_SOURCES]],
  ['a name', ['--select', 'customer_revenue'], ['customer_revenue']],
  ['a wildcard', ['--select', 'stg_*'], ['stg_customers', 'stg_orders', 'stg_payments']],
  ['a wildcard with ?', ['--select', 'int_???_orders'], ['int_big_orders']],
  ['an fqn folder', ['--select', 'staging'], ['int_big_orders', 'int_paid_orders', 'stg_customers', 'stg_orders', 'stg_payments']],
  ['an fqn subfolder', ['--select', 'gold.marts'], ['order_facts', 'top_customers']],
  ['an fqn with the project name', ['--select', 'shop.gold.marts'], ['order_facts', 'top_customers']],
  ['an fqn with a wildcard part', ['--select', 'gold.*'], ['customer_revenue', 'monthly_revenue', 'order_facts', 'top_customers']],
  ['path: a folder', ['--select', 'path:models/gold/marts'], ['order_facts', 'top_customers']],
  ['path: a file', ['--select', 'path:models/staging/stg_orders.sql'], ['stg_orders']],
  ['path: a glob', ['--select', 'path:models/*/int_*'], ['int_big_orders', 'int_paid_orders']],
  ['a bare path (has a /)', ['--select', 'models/gold'], ['customer_revenue', 'monthly_revenue', 'order_facts', 'top_customers']],
  ['path: the YAML file of sources', ['--select', 'path:models/sources.yml'], ALL_SOURCES],
  ['file: with extension', ['--select', 'file:top_customers.sql'], ['top_customers']],
  ['file: without extension', ['--select', 'file:top_customers'], ['top_customers']],
  ['a bare file name', ['--select', 'top_customers.sql'], ['top_customers']],
  ['file: a seed', ['--select', 'file:countries.csv'], ['countries']],
  ['tag: from a folder', ['--select', 'tag:gold'], ['customer_revenue', 'monthly_revenue', 'order_facts', 'top_customers']],
  ['tag: from a subfolder', ['--select', 'tag:marts'], ['order_facts', 'top_customers']],
  ['tag: from YAML properties', ['--select', 'tag:payments'], ['stg_payments']],
  ['tag: from config()', ['--select', 'tag:top'], ['top_customers']],
  ['tag: wildcard', ['--select', 'tag:pay*'], ['stg_payments']],
  ['source: a source', ['--select', 'source:files'], ['files.customers', 'files.payments']],
  ['source: a table', ['--select', 'source:raw.orders'], ['raw.orders']],
  ['source: wildcard', ['--select', 'source:*'], ALL_SOURCES],
  ['source:x+ (the models reading it)', ['--select', 'source:files.payments+'], ['order_facts', 'stg_payments', 'files.payments']],
  ['resource_type:model', ['--select', 'resource_type:model'], ALL_MODELS],
  ['resource_type:seed', ['--select', 'resource_type:seed'], ['countries']],
  ['resource_type:source', ['--select', 'resource_type:source'], ALL_SOURCES],
  ['config.materialized:ephemeral', ['--select', 'config.materialized:ephemeral'], ['int_big_orders', 'int_paid_orders']],
  ['config.materialized:table', ['--select', 'config.materialized:table'], ['customer_revenue', 'monthly_revenue']],
  ['config.materialized:view', ['--select', 'config.materialized:view'], ['order_facts', 'stg_customers', 'stg_orders', 'stg_payments', 'top_customers']],
  ['config.meta.<key>: from YAML properties', ['--select', 'config.meta.owner:finance'], ['stg_payments']],
  ['config.schema:', ['--select', 'config.schema:reporting'], ['monthly_revenue']],
  ['config.alias:', ['--select', 'config.alias:revenue_by_month'], ['monthly_revenue']],
  ['+x: all ancestors', ['--select', '+customer_revenue'], ['customer_revenue', 'int_big_orders', 'int_paid_orders', 'stg_customers', 'stg_orders', 'countries', 'files.customers', 'raw.orders']],
  ['x+: all descendants', ['--select', 'stg_orders+'], ['customer_revenue', 'int_big_orders', 'int_paid_orders', 'monthly_revenue', 'order_facts', 'stg_orders', 'top_customers']],
  ['2+x: two generations of ancestors', ['--select', '2+customer_revenue'], ['customer_revenue', 'int_big_orders', 'int_paid_orders', 'stg_customers', 'countries', 'files.customers']],
  ['x+1: one generation of descendants', ['--select', 'stg_orders+1'], ['int_paid_orders', 'monthly_revenue', 'stg_orders']],
  ['+x+: ancestors and descendants', ['--select', '+customer_revenue+'], ['customer_revenue', 'int_big_orders', 'int_paid_orders', 'stg_customers', 'stg_orders', 'top_customers', 'countries', 'files.customers', 'raw.orders']],
  ['@x: descendants and all their ancestors', ['--select', '@stg_payments'], ['int_paid_orders', 'order_facts', 'stg_orders', 'stg_payments', 'files.payments', 'raw.orders']],
  ['-- depends_on makes an edge', ['--select', 'customer_revenue+1'], ['customer_revenue', 'top_customers']],
  ['union by spaces in one argument', ['--select', 'tag:marts stg_orders'], ['order_facts', 'stg_orders', 'top_customers']],
  ['union by several values', ['--select', 'tag:marts', 'stg_orders'], ['order_facts', 'stg_orders', 'top_customers']],
  ['union by repeated --select', ['--select', 'tag:marts', '--select', 'stg_orders'], ['order_facts', 'stg_orders', 'top_customers']],
  ['intersection by commas', ['--select', 'tag:gold,config.materialized:table'], ['customer_revenue', 'monthly_revenue']],
  ['intersection with a graph operator', ['--select', '+order_facts,resource_type:source'], ['files.payments', 'raw.orders']],
  ['--exclude a wildcard', ['--select', 'staging', '--exclude', 'int_*'], ['stg_customers', 'stg_orders', 'stg_payments']],
  ['--exclude a union', ['--select', '+top_customers', '--exclude', 'resource_type:source', 'resource_type:seed'], ['customer_revenue', 'int_big_orders', 'int_paid_orders', 'stg_customers', 'stg_orders', 'top_customers']],
  ['--exclude without --select', ['--exclude', 'tag:staging', 'tag:gold'], ['countries', ...ALL_SOURCES]],
  ['-s and -m are --select', ['-s', 'stg_orders', '-m', 'stg_customers'], ['stg_customers', 'stg_orders']],
  ['disabled models are never selected', ['--select', 'legacy_report', 'old_export', 'customer_revenue'], ['customer_revenue']],
];

describe.concurrent('ls --select', () => {
  for (const [what, args, expected] of CASES) {
    it(what, async ({ expect }) => {
      const ls = await smelter(['ls', ...args], { projectDir: dir });
      expect({ code: ls.code, stderr: ls.stderr, stdout: lines(ls.stdout) }).toEqual({ code: 0, stderr: expect.any(String), stdout: expected });
      // Only the disabled-models case warns (two criteria match nothing).
      if (what.startsWith('disabled')) {
        expect(lines(ls.stderr)).toEqual([
          "warning: The selection criterion 'legacy_report' does not match any enabled nodes",
          "warning: The selection criterion 'old_export' does not match any enabled nodes",
        ]);
      } else {
        expect(ls.stderr).toBe('');
      }
    });
  }
});

describe.concurrent('ls --output', () => {
  it('path prints the defining file of each node', async ({ expect }) => {
    const ls = await smelter(['ls', '--select', '+stg_payments', 'countries', '--output', 'path'], { projectDir: dir });
    expect({ code: ls.code, stdout: lines(ls.stdout) }).toEqual({
      code: 0,
      stdout: ['models/staging/stg_payments.sql', 'seeds/countries.csv', 'models/sources.yml'],
    });
  });

  it('json prints one object per node', async ({ expect }) => {
    const ls = await smelter(['ls', '--select', 'stg_payments', 'source:files.payments', '--output', 'json'], { projectDir: dir });
    expect(ls.code).toBe(0);
    expect(lines(ls.stdout).map((l) => JSON.parse(l))).toEqual([
      {
        name: 'stg_payments',
        resource_type: 'model',
        unique_id: 'model.shop.stg_payments',
        original_file_path: 'models/staging/stg_payments.sql',
        depends_on: { nodes: ['source.shop.files.payments'], macros: [] },
        config: {
          materialized: 'view',
          schema: 'staging',
          alias: 'stg_payments',
          tags: ['staging', 'payments'],
          enabled: true,
          meta: { owner: 'finance' },
          docs: {},
          pre_hook: [],
          post_hook: [],
          full_refresh: null,
          external: false,
        },
      },
      {
        name: 'files.payments',
        resource_type: 'source',
        unique_id: 'source.shop.files.payments',
        original_file_path: 'models/sources.yml',
        depends_on: { nodes: [], macros: [] },
        config: { enabled: true, tags: [] },
      },
    ]);
  });
});

describe.concurrent('selectors that match nothing, and bad selectors', () => {
  it('a selector matching nothing is a warning on stderr, exit 0', async ({ expect }) => {
    const ls = await smelter(['ls', '--select', 'tag:nope', 'stg_orders'], { projectDir: dir });
    expect({ code: ls.code, stdout: lines(ls.stdout), stderr: lines(ls.stderr) }).toEqual({
      code: 0,
      stdout: ['stg_orders'],
      stderr: ["warning: The selection criterion 'tag:nope' does not match any enabled nodes"],
    });
  });

  it('run with a selection matching nothing does nothing (no hooks) and exits 0', async ({ expect }) => {
    const own = copy();
    const run = await smelter(['run', '--select', 'no_such_model'], { projectDir: own });
    expect({ code: run.code, stdout: lines(run.stdout), stderr: lines(run.stderr) }).toEqual({
      code: 0,
      stdout: ['Nothing to do: no models selected'],
      stderr: ["warning: The selection criterion 'no_such_model' does not match any enabled nodes"],
    });
  });

  const bad: ReadonlyArray<readonly [string, string, string]> = [
    ['an unknown method', 'tagg:gold', "error: unknown selector method 'tagg' in 'tagg:gold' (did you mean tag?)"],
    ['an unknown resource type', 'resource_type:modle', "error: invalid selector 'resource_type:modle': unknown resource type 'modle' (did you mean model?)"],
    ['an unknown state', 'state:modifed', "error: invalid selector 'state:modifed': unknown state 'modifed' (did you mean modified?)"],
    ['an empty intersection part', 'tag:gold,,stg_orders', "error: invalid selector 'tag:gold,,stg_orders': empty part in an intersection"],
    ['a lone operator', '+', "error: invalid selector '+': missing a node name or method:value"],
    ['@ with a + prefix', '@+stg_orders', "error: invalid selector '@+stg_orders': '@' and a '+' prefix are incompatible"],
    ['config without a key', 'config:table', "error: invalid selector 'config:table': config needs a key, as in 'config.materialized:table'"],
    ['a method without a value', 'tag:', "error: invalid selector 'tag:': missing a value after 'tag:'"],
  ];
  for (const [what, selector, message] of bad) {
    it(`${what} is an error, exit 2`, async ({ expect }) => {
      const ls = await smelter(['ls', '--select', selector], { projectDir: dir });
      expect({ code: ls.code, stdout: ls.stdout, stderr: lines(ls.stderr) }).toEqual({ code: 2, stdout: '', stderr: [message] });
    });
  }

  it('a bad --exclude is an error too', async ({ expect }) => {
    const ls = await smelter(['ls', '--exclude', 'pth:models'], { projectDir: dir });
    expect({ code: ls.code, stderr: lines(ls.stderr) }).toEqual({ code: 2, stderr: ["error: unknown selector method 'pth' in 'pth:models' (did you mean path?)"] });
  });

  it('state: without --state is an error', async ({ expect }) => {
    const ls = await smelter(['ls', '--select', 'state:modified'], { projectDir: dir });
    expect({ code: ls.code, stderr: lines(ls.stderr) }).toEqual({ code: 2, stderr: ['error: state:modified needs --state DIR with a manifest.json'] });
  });

  it('--state pointing at a folder without manifest.json is an error', async ({ expect }) => {
    const ls = await smelter(['ls', '--select', 'state:modified', '--state', join(dir, 'models')], { projectDir: dir });
    expect({ code: ls.code, stderr: lines(ls.stderr) }).toEqual({
      code: 2,
      stderr: [`error: --state ${join(dir, 'models')}: no manifest.json there (point --state at the target/ folder of an earlier compile or run)`],
    });
  });
});

describe.concurrent('state:modified against an earlier manifest', () => {
  /** A copy with an earlier manifest in <copy>/prev/ (from compile), then `edit` applied. */
  async function withState(edit: (project: string) => void): Promise<string> {
    const own = copy();
    const compile = await smelter(['compile'], { projectDir: own });
    if (compile.code !== 0) throw new Error(`compile failed: ${compile.stderr}`);
    cpSync(join(own, 'target'), join(own, 'prev'), { recursive: true });
    edit(own);
    return own;
  }
  const ls = async (project: string, selector: string) => {
    const r = await smelter(['ls', '--select', selector, '--state', join(project, 'prev')], { projectDir: project });
    return { code: r.code, stdout: lines(r.stdout), stderr: lines(r.stderr) };
  };

  it('nothing changed: nothing is modified (sources included)', async ({ expect }) => {
    const own = await withState(() => {});
    expect(await ls(own, 'state:modified')).toEqual({
      code: 0,
      stdout: [],
      stderr: ["warning: The selection criterion 'state:modified' does not match any enabled nodes"],
    });
    expect((await ls(own, 'state:unmodified')).stdout).toEqual([...ALL_MODELS, 'countries', ...ALL_SOURCES]);
  });

  it('an edited model body', async ({ expect }) => {
    const own = await withState((p) => editFile(join(p, 'models/staging/int_paid_orders.sql'), "where status = 'paid'", "where status = 'paid' and amount > 0"));
    expect(await ls(own, 'state:modified')).toEqual({ code: 0, stdout: ['int_paid_orders'], stderr: [] });
    expect(await ls(own, 'state:modified.body')).toEqual({ code: 0, stdout: ['int_paid_orders'], stderr: [] });
    expect(await ls(own, 'state:modified+')).toEqual({
      code: 0,
      stdout: ['customer_revenue', 'int_big_orders', 'int_paid_orders', 'order_facts', 'top_customers'],
      stderr: [],
    });
  });

  it('an edited folder config in project.yml', async ({ expect }) => {
    const own = await withState((p) => editFile(join(p, 'project.yml'), '+tags: [marts]', '+tags: [marts, kpi]'));
    expect(await ls(own, 'state:modified')).toEqual({ code: 0, stdout: ['order_facts', 'top_customers'], stderr: [] });
    expect(await ls(own, 'state:modified.configs')).toEqual({ code: 0, stdout: ['order_facts', 'top_customers'], stderr: [] });
  });

  it('an edited seed config in YAML properties', async ({ expect }) => {
    const own = await withState((p) => editFile(join(p, 'models/properties.yml'), 'code: VARCHAR', 'code: TEXT'));
    expect(await ls(own, 'state:modified')).toEqual({ code: 0, stdout: ['countries'], stderr: [] });
  });

  it('an edited macro modifies the models that call it, directly or through another macro', async ({ expect }) => {
    const own = await withState((p) => editFile(join(p, 'macros/money.sql'), 'cast(round({{ column }} * {{ scale }}) as bigint)', 'cast(round({{ column }} * {{ scale }}, 0) as bigint)'));
    expect(await ls(own, 'state:modified')).toEqual({ code: 0, stdout: ['customer_revenue', 'order_facts'], stderr: [] });
    expect(await ls(own, 'state:modified.macros')).toEqual({ code: 0, stdout: ['customer_revenue', 'order_facts'], stderr: [] });
  });

  it('a new model is state:new and state:modified', async ({ expect }) => {
    const own = await withState((p) => writeText(join(p, 'models/gold/new_kpi.sql'), "select count(*) as n from {{ ref('stg_orders') }}\n"));
    expect(await ls(own, 'state:new')).toEqual({ code: 0, stdout: ['new_kpi'], stderr: [] });
    expect(await ls(own, 'state:modified')).toEqual({ code: 0, stdout: ['new_kpi'], stderr: [] });
  });

  it('a relative --state is relative to the working directory, like --project-dir', async ({ expect }) => {
    const own = await withState((p) => editFile(join(p, 'models/staging/stg_orders.sql'), 'ordered_on\n', 'ordered_on, 1 as version\n'));
    const r = await smelter(['ls', '--select', 'state:modified,resource_type:model', '--state', relative(REPO_ROOT, join(own, 'prev'))], { projectDir: own });
    expect({ code: r.code, stdout: lines(r.stdout), stderr: r.stderr }).toEqual({ code: 0, stdout: ['stg_orders'], stderr: '' });
  });

  it('a changed source location modifies the source', async ({ expect }) => {
    const own = await withState((p) => editFile(join(p, 'models/sources.yml'), 'data/payments.parquet', 'data/payments_v2.parquet'));
    expect(await ls(own, 'state:modified')).toEqual({ code: 0, stdout: ['files.payments'], stderr: [] });
  });
});

/**
 * --indirect-selection on a dimension and a fact with a relationships test between them: which
 * tests `build --select dim_member` runs, before fact_trades exists.
 */
describe.concurrent('--indirect-selection', () => {
  const project = () =>
    writeTempProject({
      'project.yml': 'name: shop\ntargets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n',
      'models/dim_member.sql': "{{ config(materialized='table') }}\nselect * from (values (1), (2)) as t(member_key)\n",
      'models/fact_trades.sql': "{{ config(materialized='table') }}\nselect member_key * 10 as trade_id, member_key from {{ ref('dim_member') }}\n",
      'models/schema.yml': [
        'version: 2',
        'models:',
        '  - name: dim_member',
        '    columns:',
        '      - { name: member_key, data_tests: [unique, not_null] }',
        '  - name: fact_trades',
        '    columns:',
        '      - { name: trade_id, data_tests: [unique] }',
        '      - name: member_key',
        '        data_tests:',
        `          - relationships: { to: "ref('dim_member')", field: member_key }`,
        '',
      ].join('\n'),
    });
  const RELATIONSHIPS = 'relationships_fact_trades_member_key__member_key__ref_dim_member_';

  it('build --indirect-selection cautious --select dim_member: the dimension and its own tests, not the fact\'s relationships test', async ({ expect }) => {
    const r = await smelter(['build', '--indirect-selection', 'cautious', '--select', 'dim_member'], { projectDir: project() });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(withoutTimings(r.stdout)).toEqual([
      'Running 3 nodes with 1 thread',
      '1 of 3 OK table main.dim_member ............................ [2 rows in Ns]',
      '2 of 3 PASS unique_dim_member_member_key ................... [PASS in Ns]',
      '3 of 3 PASS not_null_dim_member_member_key ................. [PASS in Ns]',
      'Finished 3 nodes in Ns: 1 OK, 2 PASS, 0 WARN, 0 FAIL, 0 ERROR, 0 SKIP',
    ]);
  });

  it('eager (the default) runs the relationships test too, which fails while the fact does not exist', async ({ expect }) => {
    const r = await smelter(['build', '--select', 'dim_member'], { projectDir: project() });
    expect(r.code).toBe(1);
    expect(withoutTimings(r.stdout)).toEqual([
      'Running 4 nodes with 1 thread',
      '1 of 4 OK table main.dim_member ............................ [2 rows in Ns]',
      '2 of 4 PASS unique_dim_member_member_key ................... [PASS in Ns]',
      '3 of 4 PASS not_null_dim_member_member_key ................. [PASS in Ns]',
      `4 of 4 ERROR ${RELATIONSHIPS}  [ERROR in Ns]`,
      'Finished 4 nodes in Ns: 1 OK, 2 PASS, 0 WARN, 0 FAIL, 1 ERROR, 0 SKIP',
      `  ${RELATIONSHIPS}: models/schema.yml:11: relationships_fact_trades_member_key__member_key__ref_dim_member_ reads fact_trades, which has not been built (build it first)`,
    ]);
  });

  it('ls in each mode, and --exclude taking the tests of what it removes', async ({ expect }) => {
    const dir = project();
    const ls = async (...args: string[]) => {
      const r = await smelter(['ls', ...args], { projectDir: dir });
      return { code: r.code, stderr: r.stderr, stdout: lines(r.stdout) };
    };
    const ok = (stdout: string[]) => ({ code: 0, stderr: '', stdout });
    expect(await ls('--select', 'fact_trades')).toEqual(ok(['fact_trades', RELATIONSHIPS, 'unique_fact_trades_trade_id']));
    expect(await ls('--select', 'fact_trades', '--indirect-selection', 'eager')).toEqual(ok(['fact_trades', RELATIONSHIPS, 'unique_fact_trades_trade_id']));
    expect(await ls('--select', 'fact_trades', '--indirect-selection', 'cautious')).toEqual(ok(['fact_trades', 'unique_fact_trades_trade_id']));
    // dim_member is an ancestor of fact_trades: buildable takes the relationships test.
    expect(await ls('--select', 'fact_trades', '--indirect-selection', 'buildable')).toEqual(ok(['fact_trades', RELATIONSHIPS, 'unique_fact_trades_trade_id']));
    expect(await ls('--select', 'fact_trades', '--indirect-selection', 'empty')).toEqual(ok(['fact_trades']));
    expect(await ls('--select', 'fact_trades', RELATIONSHIPS, '--indirect-selection', 'empty')).toEqual(ok(['fact_trades', RELATIONSHIPS]));
    expect(await ls('--select', '+fact_trades', '--exclude', 'dim_member', '--indirect-selection', 'cautious')).toEqual(ok(['fact_trades', 'unique_fact_trades_trade_id']));
    expect(await ls('--indirect-selection', 'lazy')).toEqual({ code: 2, stderr: "error: --indirect-selection must be eager, cautious, buildable or empty, got 'lazy'\n", stdout: [] });
  });
});
