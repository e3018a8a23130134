/**
 * A dbt-duckdb project runs as written (tests/fixtures/dbt-shop): dbt_project.yml and profiles.yml
 * instead of project.yml, a package installed under dbt_packages/ (tests/fixtures/dbt-pkg-shout)
 * reached through its namespace, ref('package', 'model'), adapter.dispatch with the project's
 * `dispatch:` search order, package vars, and dbt's schema naming. In process, on real DuckDB.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { smelterInProcess as smelter } from '../helpers/cli-in-process.js';
import { queryDuckDB } from '../helpers/duckdb.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

/** dbt-shop and its local package side by side in a fresh folder, the package installed by `smelter deps`. */
async function shopProject(): Promise<string> {
  const base = mkdtempSync(join(tmpdir(), 'smelter-dbt-'));
  cpSync(join(FIXTURES, 'dbt-shop'), join(base, 'dbt-shop'), { recursive: true });
  cpSync(join(FIXTURES, 'dbt-pkg-shout'), join(base, 'dbt-pkg-shout'), { recursive: true });
  const dir = join(base, 'dbt-shop');
  const deps = await smelter(dir, 'deps');
  expect(deps.code, deps.stderr).toBe(0);
  return dir;
}

const lines = (text: string) => text.replace(/\n$/, '').split('\n').map((l) => l.replace(/\d+\.\d\ds\b/g, 'Ns'));

describe('a dbt project with a package', () => {
  it('builds every node where dbt would put it, with the package macros, dispatch order and vars dbt gives', async () => {
    const dir = await shopProject();
    const result = await smelter(dir, 'build');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const db = join(dir, 'target', 'shop.duckdb');
    // The profile's schema, and dbt's <schema>_<custom schema> for the staging folder's +schema.
    expect(await queryDuckDB(db, "select table_schema, table_name, table_type from information_schema.tables where table_schema not in ('main', '_smelter') order by 1, 2")).toEqual([
      { table_schema: 'analytics', table_name: 'orders_big', table_type: 'BASE TABLE' },
      { table_schema: 'analytics', table_name: 'raw_customers', table_type: 'BASE TABLE' },
      { table_schema: 'analytics', table_name: 'raw_orders', table_type: 'BASE TABLE' },
      // The package says view; the root project's `models: shout: +materialized: table` wins.
      { table_schema: 'analytics', table_name: 'shout_words', table_type: 'BASE TABLE' },
      { table_schema: 'analytics', table_name: 'shouted', table_type: 'BASE TABLE' },
      { table_schema: 'analytics_stg', table_name: 'stg_orders', table_type: 'VIEW' },
      // A snapshot's target_schema is used as written.
      { table_schema: 'snapshots', table_name: 'customers_snapshot', table_type: 'BASE TABLE' },
    ]);
    // shout.loud dispatches to the project's default__loud (search_order: shop, shout); shout.greet
    // reads the var the root project scopes to the package and calls the package's _bang unqualified.
    expect(await queryDuckDB(db, 'select * from analytics.orders_big order by id')).toEqual([
      // id is inferred as BIGINT, which the JSON rows give as text.
      { id: '1', amount: 10, status: '[PAID]', greeting: 'hello from shop!' },
      { id: '3', amount: 7, status: '[PAID]', greeting: 'hello from shop!' },
    ]);
    // The package's own model calls loud() by its bare name; ref('shout', 'shout_words') reads it.
    expect(await queryDuckDB(db, 'select * from analytics.shouted')).toEqual([{ word: '[HEY]' }]);
  });

  it('lists package nodes under the package, and a Jinja config value in dbt_project.yml follows --vars', async () => {
    const dir = await shopProject();
    const all = await smelter(dir, 'ls', '--output', 'json');
    expect(all.code).toBe(0);
    const ids = lines(all.stdout).map((l) => (JSON.parse(l) as { unique_id: string }).unique_id).sort();
    expect(ids).toEqual([
      'model.shop.orders_big',
      'model.shop.shouted',
      'model.shop.stg_orders',
      'model.shout.shout_words',
      'seed.shop.raw_customers',
      'seed.shop.raw_orders',
      'snapshot.shop.customers_snapshot',
    ]);
    // +enabled: "{{ var('enable_big', true) }}": --vars sets a var dbt_project.yml never declares (dbt's rule).
    const some = await smelter(dir, 'ls', '--vars', '{enable_big: false}', '--exclude', 'resource_type:snapshot', 'resource_type:seed');
    expect(lines(some.stdout).sort()).toEqual(['shout_words', 'shouted', 'stg_orders']);
  });

  it('the profile is found in --profiles-dir; a missing one, or an output that is not duckdb, is one error, exit 2', async () => {
    const dir = await shopProject();
    const elsewhere = mkdtempSync(join(tmpdir(), 'smelter-profiles-'));
    writeFileSync(join(elsewhere, 'profiles.yml'), 'shop:\n  target: other\n  outputs:\n    other:\n      type: duckdb\n      path: target/other.duckdb\n');
    expect((await smelter(dir, 'run', '-s', 'shouted', '+shouted', '--profiles-dir', elsewhere)).code).toBe(0);
    expect(await queryDuckDB(join(dir, 'target', 'other.duckdb'), 'select * from main.shouted')).toEqual([{ word: '[HEY]' }]);

    const empty = mkdtempSync(join(tmpdir(), 'smelter-profiles-'));
    expect(await smelter(dir, 'ls', '--profiles-dir', empty)).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: no profiles.yml for profile 'shop': looked in ${empty} (write a profiles.yml with a duckdb output in the project folder, or pass --profiles-dir DIR)\n`,
    });
    expect(await smelter(dir, 'ls', '--target', 'warehouse')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: profiles.yml:10:7: output warehouse of profile shop is type "postgres": smelter runs dbt-duckdb profiles (type: duckdb) (add a duckdb output and choose it with --target or target:)\n',
    });
    // Connections run in UTC: a time zone in the settings is refused at its line, not when the database opens.
    writeFileSync(join(elsewhere, 'profiles.yml'), 'shop:\n  target: other\n  outputs:\n    other:\n      type: duckdb\n      settings:\n        TimeZone: Europe/Paris\n');
    expect(await smelter(dir, 'ls', '--profiles-dir', elsewhere)).toEqual({
      code: 2,
      stdout: '',
      stderr: `error: ${join(elsewhere, 'profiles.yml')}:7:9: settings.TimeZone: smelter runs every connection in UTC, so the time zone cannot be set\n`,
    });
  });

  it('a ref to a missing package or model, a dispatch that finds nothing and a macro a package lacks are each one located error', async () => {
    const dir = await shopProject();
    writeFileSync(join(dir, 'models', 'broken_refs.sql'), "select * from {{ ref('shout', 'nope') }} union all select * from {{ ref('nopkg', 'shout_words') }}\n");
    writeFileSync(join(dir, 'models', 'broken_dispatch.sql'), "select {{ adapter.dispatch('whisper', 'shout')('x') }}\n");
    writeFileSync(join(dir, 'models', 'broken_macro.sql'), 'select {{ shout.lowd(1) }}\n');
    const result = await smelter(dir, 'ls');
    expect(result.code).toBe(2);
    expect(lines(result.stderr).sort()).toEqual([
      "error: models/broken_dispatch.sql:1:18: adapter.dispatch: no macro named 'whisper' in namespace 'shout'; searched for 'duckdb__whisper', 'default__whisper', 'shout.duckdb__whisper', 'shout.default__whisper'",
      "error: models/broken_macro.sql:1:17: package 'shout' has no macro 'lowd' (did you mean loud?)",
      "error: models/broken_refs.sql:1: ref('nopkg', 'shout_words'): no package named nopkg",
      "error: models/broken_refs.sql:1: ref('shout', 'nope'): no model or seed named nope in package shout",
    ]);
  });

  it("a project's naming macros may delegate to dbt's own: default__generate_schema_name, generate_schema_name_for_env, default__generate_alias_name", async () => {
    const dir = await shopProject();
    writeFileSync(
      join(dir, 'macros', 'naming.sql'),
      [
        '{% macro generate_schema_name(custom_schema_name, node) -%}',
        "  {%- if node.resource_type == 'seed' -%}{{ generate_schema_name_for_env('raw', node) }}",
        '  {%- else -%}{{ default__generate_schema_name(custom_schema_name, node) }}{%- endif -%}',
        '{%- endmacro %}',
        '{% macro generate_alias_name(custom_alias_name=none, node=none) -%}',
        "  {{ default__generate_alias_name(custom_alias_name, node) }}{% if node.resource_type == 'seed' %}_seed{% endif %}",
        '{%- endmacro %}',
        '',
      ].join('\n'),
    );
    const relations = async (target?: string) => {
      const ls = await smelter(dir, 'ls', '--output', 'json', '--select', 'shop', ...(target ? ['--target', target] : []));
      expect(ls.code, ls.stderr).toBe(0);
      return ls.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; config: { schema: string; alias: string } }).map((n) => `${n.name}: ${n.config.schema}.${n.config.alias}`);
    };
    expect(await relations()).toEqual([
      'orders_big: analytics.orders_big',
      'shouted: analytics.shouted',
      'stg_orders: analytics_stg.stg_orders',
      // dev is not prod: generate_schema_name_for_env gives the target's schema.
      'raw_customers: analytics.raw_customers_seed',
      'raw_orders: analytics.raw_orders_seed',
      // A snapshot's target_schema is used as written, as dbt's legacy snapshot config is.
      'customers_snapshot: snapshots.customers_snapshot',
    ]);
  });

  it("config values in dbt_project.yml may read the target, as in dbt", async () => {
    const dir = await shopProject();
    const file = join(dir, 'dbt_project.yml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('      +schema: stg\n', '      +schema: stg\n      +tags: "{{ target.name }}_{{ target.schema }}"\n'));
    const ls = await smelter(dir, 'ls', '--select', 'tag:dev_analytics');
    expect(ls).toEqual({ code: 0, stdout: 'stg_orders\n', stderr: '' });
  });

  it("config.get and config.require read the model's config: config() in the model over dbt_project.yml's", async () => {
    const dir = await shopProject();
    writeFileSync(
      join(dir, 'models', 'staging', 'configured.sql'),
      "{{ config(tags=['daily']) }}\nselect '{{ config.get('materialized') }}' as materialized, '{{ config.require('schema') }}' as schema_written, " +
        "'{{ config.get('tags') | join(',') }}' as tags, '{{ config.get('owner', 'nobody') }}' as owner\n",
    );
    writeFileSync(join(dir, 'models', 'needs_owner.sql'), "select '{{ config.require('owner') }}' as owner\n");
    const compiled = await smelter(dir, 'compile', '--select', 'configured');
    expect(compiled.code, compiled.stderr).toBe(0);
    expect(readFileSync(join(dir, 'target', 'compiled', 'models', 'staging', 'configured.sql'), 'utf8').trim()).toBe(
      "select 'view' as materialized, 'analytics_stg' as schema_written, 'daily' as tags, 'nobody' as owner",
    );
    // Parse does not check (the config is not resolved yet, as in dbt); compiling the model does.
    expect(await smelter(dir, 'compile', '--select', 'needs_owner')).toEqual({
      code: 2,
      stdout: 'Compiled 0 models to target/compiled/; 1 failed\n',
      stderr: "error: models/needs_owner.sql:1:18: config.require('owner'): the config has no owner\n",
    });
  });

  it('dbt features smelter does not run are each one error naming the feature, the file and the line', async () => {
    const dir = await shopProject();
    writeFileSync(join(dir, 'macros', 'mine.sql'), '{% materialization mine, default %}\n{{ return({"relations": []}) }}\n{% endmaterialization %}\n');
    writeFileSync(join(dir, 'snapshots', 'from_yaml.yml'), "snapshots:\n  - name: orders_history\n    relation: ref('orders_big')\n    config: {unique_key: id, strategy: check, check_cols: all}\n");
    writeFileSync(join(dir, 'models', 'versions.yml'), 'models:\n  - name: orders_big\n    latest_version: 2\n    versions:\n      - v: 2\n');
    const result = await smelter(dir, 'ls');
    expect(result.code).toBe(2);
    expect(lines(result.stderr).sort()).toEqual([
      "error: macros/mine.sql:1:4: custom materializations ({% materialization %}) are not supported: smelter's are view, table, ephemeral, incremental and scd2 (with external: true for Parquet)",
      'error: models/versions.yml:4:5: orders_big: model versions (versions:) are not supported (keep one version of the model, in its own file, without versions:)',
      'error: snapshots/from_yaml.yml:3:5: orders_history: snapshots defined in YAML (relation:) are not supported (write a {% snapshot %} block selecting from the relation, in a .sql file under snapshots/)',
    ]);
  });

  it('a Python model is one located error, not a model left out of the graph', async () => {
    const dir = await shopProject();
    writeFileSync(join(dir, 'models', 'scores.py'), 'def model(dbt, session):\n    return dbt.ref("orders")\n');
    expect(await smelter(dir, 'ls')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: models/scores.py:1: scores.py is a Python model: smelter runs SQL models only (rewrite it as a .sql model, or move it out of the model paths)\n',
    });
  });

  it("config paths in dbt_project.yml that match nothing are warnings, as in dbt; the build goes on", async () => {
    const dir = await shopProject();
    const file = join(dir, 'dbt_project.yml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('  shout:\n    +materialized: table', '  shout:\n    +materialized: table\n  retired_pkg:\n    +materialized: view\n  shop_extra:\n    +tags: x'));
    const result = await smelter(dir, 'ls');
    expect(result.code).toBe(0);
    expect(lines(result.stderr)).toEqual([
      'warning: dbt_project.yml:29:3: models.retired_pkg names no package (shop, shout) and applies to nothing',
      'warning: dbt_project.yml:31:3: models.shop_extra names no package (shop, shout) and applies to nothing',
    ]);
  });

  it("a snapshot keeps the history of its source with dbt's columns: run and build leave it to snapshot and build", async () => {
    const dir = await shopProject();
    expect((await smelter(dir, 'build')).code).toBe(0);
    const db = join(dir, 'target', 'shop.duckdb');
    const scdId = (id: number, at: string) => createHash('md5').update(`${id}|${at}`).digest('hex');
    expect(await queryDuckDB(db, 'select * from snapshots.customers_snapshot order by id, dbt_valid_from')).toEqual([
      { id: '1', name: 'Ann', updated_at: '2024-01-01 00:00:00', dbt_scd_id: scdId(1, '2024-01-01 00:00:00'), dbt_updated_at: '2024-01-01 00:00:00', dbt_valid_from: '2024-01-01 00:00:00', dbt_valid_to: null },
      { id: '2', name: 'Bo', updated_at: '2024-01-01 00:00:00', dbt_scd_id: scdId(2, '2024-01-01 00:00:00'), dbt_updated_at: '2024-01-01 00:00:00', dbt_valid_from: '2024-01-01 00:00:00', dbt_valid_to: null },
    ]);
    // Ann is renamed, Bo is gone (invalidate_hard_deletes), Cy is new.
    writeFileSync(join(dir, 'seeds', 'raw_customers.csv'), 'id,name,updated_at\n1,Anna,2024-02-01 00:00:00\n3,Cy,2024-02-01 00:00:00\n');
    expect((await smelter(dir, 'seed', '-s', 'raw_customers')).code).toBe(0);
    const run = await smelter(dir, 'run');
    expect(lines(run.stdout).at(-1)).toBe('Finished 4 models in Ns: 4 OK, 0 ERROR, 0 SKIP');
    const before = new Date();
    const snapshot = await smelter(dir, 'snapshot');
    expect(lines(snapshot.stdout)).toEqual([
      'Running 1 snapshot with 1 thread',
      '1 of 1 OK scd2 snapshots.customers_snapshot ................ [4 rows in Ns]',
      'Finished 1 snapshot in Ns: 1 OK, 0 ERROR, 0 SKIP',
    ]);
    const rows = await queryDuckDB(db, 'select id, name, dbt_scd_id, dbt_valid_from, dbt_valid_to from snapshots.customers_snapshot order by id, dbt_valid_from');
    const boEnd = rows[2].dbt_valid_to as string;
    expect(rows).toEqual([
      { id: '1', name: 'Ann', dbt_scd_id: scdId(1, '2024-01-01 00:00:00'), dbt_valid_from: '2024-01-01 00:00:00', dbt_valid_to: '2024-02-01 00:00:00' },
      { id: '1', name: 'Anna', dbt_scd_id: scdId(1, '2024-02-01 00:00:00'), dbt_valid_from: '2024-02-01 00:00:00', dbt_valid_to: null },
      { id: '2', name: 'Bo', dbt_scd_id: scdId(2, '2024-01-01 00:00:00'), dbt_valid_from: '2024-01-01 00:00:00', dbt_valid_to: boEnd },
      { id: '3', name: 'Cy', dbt_scd_id: scdId(3, '2024-02-01 00:00:00'), dbt_valid_from: '2024-02-01 00:00:00', dbt_valid_to: null },
    ]);
    // Bo's version ends when the snapshot ran (UTC), the moment dbt records a hard delete.
    expect(Date.parse(`${boEnd.replace(' ', 'T')}Z`)).toBeGreaterThanOrEqual(before.getTime() - 1000);
  });

  it('a package listed in packages.yml but not installed is one error before anything runs: run smelter deps', async () => {
    const base = mkdtempSync(join(tmpdir(), 'smelter-dbt-'));
    cpSync(join(FIXTURES, 'dbt-shop'), join(base, 'dbt-shop'), { recursive: true });
    expect(await smelter(join(base, 'dbt-shop'), 'build')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: packages.yml: a package is listed but dbt_packages/ is missing: run smelter deps\n',
    });
  });
});
