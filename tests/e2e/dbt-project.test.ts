/**
 * A dbt-duckdb project runs as written (tests/fixtures/dbt-shop): dbt_project.yml and profiles.yml
 * instead of project.yml, a package installed under dbt_packages/ (tests/fixtures/dbt-pkg-shout)
 * reached through its namespace, ref('package', 'model'), adapter.dispatch with the project's
 * `dispatch:` search order, package vars, and dbt's schema naming. In process, on real DuckDB.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { smelterInProcess as smelter } from '../helpers/cli-in-process.js';
import { queryDuckDB } from '../helpers/duckdb.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

/** dbt-shop and its local package side by side in a fresh folder, the package installed as `smelter deps` would (a symlink). */
function shopProject(): string {
  const base = mkdtempSync(join(tmpdir(), 'smelter-dbt-'));
  cpSync(join(FIXTURES, 'dbt-shop'), join(base, 'dbt-shop'), { recursive: true });
  cpSync(join(FIXTURES, 'dbt-pkg-shout'), join(base, 'dbt-pkg-shout'), { recursive: true });
  mkdirSync(join(base, 'dbt-shop', 'dbt_packages'));
  symlinkSync(join('..', '..', 'dbt-pkg-shout'), join(base, 'dbt-shop', 'dbt_packages', 'shout'));
  return join(base, 'dbt-shop');
}

const lines = (text: string) => text.replace(/\n$/, '').split('\n').map((l) => l.replace(/\d+\.\d\ds\b/g, 'Ns'));

describe('a dbt project with a package', () => {
  it('builds every node where dbt would put it, with the package macros, dispatch order and vars dbt gives', async () => {
    const dir = shopProject();
    const result = await smelter(dir, 'build');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const db = join(dir, 'target', 'shop.duckdb');
    // The profile's schema, and dbt's <schema>_<custom schema> for the staging folder's +schema.
    expect(await queryDuckDB(db, "select table_schema, table_name, table_type from information_schema.tables where table_schema like 'analytics%' order by 1, 2")).toEqual([
      { table_schema: 'analytics', table_name: 'orders_big', table_type: 'BASE TABLE' },
      { table_schema: 'analytics', table_name: 'raw_orders', table_type: 'BASE TABLE' },
      // The package says view; the root project's `models: shout: +materialized: table` wins.
      { table_schema: 'analytics', table_name: 'shout_words', table_type: 'BASE TABLE' },
      { table_schema: 'analytics', table_name: 'shouted', table_type: 'BASE TABLE' },
      { table_schema: 'analytics_stg', table_name: 'stg_orders', table_type: 'VIEW' },
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
    const dir = shopProject();
    const all = await smelter(dir, 'ls', '--output', 'json');
    expect(all.code).toBe(0);
    const ids = lines(all.stdout).map((l) => (JSON.parse(l) as { unique_id: string }).unique_id).sort();
    expect(ids).toEqual(['model.shop.orders_big', 'model.shop.shouted', 'model.shop.stg_orders', 'model.shout.shout_words', 'seed.shop.raw_orders']);
    // +enabled: "{{ var('enable_big', true) }}": --vars sets a var dbt_project.yml never declares (dbt's rule).
    const some = await smelter(dir, 'ls', '--vars', '{enable_big: false}');
    expect(lines(some.stdout).sort()).toEqual(['raw_orders', 'shout_words', 'shouted', 'stg_orders']);
  });

  it('the profile is found in --profiles-dir; a missing one, or an output that is not duckdb, is one error, exit 2', async () => {
    const dir = shopProject();
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
  });

  it('a ref to a missing package or model, a dispatch that finds nothing and a macro a package lacks are each one located error', async () => {
    const dir = shopProject();
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

  it("config paths in dbt_project.yml that match nothing are warnings, as in dbt; the build goes on", async () => {
    const dir = shopProject();
    const file = join(dir, 'dbt_project.yml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('  shout:\n    +materialized: table', '  shout:\n    +materialized: table\n  retired_pkg:\n    +materialized: view\n  shop_extra:\n    +tags: x'));
    const result = await smelter(dir, 'ls');
    expect(result.code).toBe(0);
    expect(lines(result.stderr)).toEqual([
      'warning: dbt_project.yml:29:3: models.retired_pkg names no package (shop, shout) and applies to nothing',
      'warning: dbt_project.yml:31:3: models.shop_extra names no package (shop, shout) and applies to nothing',
    ]);
  });
});
