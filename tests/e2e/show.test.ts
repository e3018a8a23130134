import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { queryDuckDB } from '../helpers/duckdb.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * `smelter show` (dbt's `show --select`): a model's SQL, rendered as compile renders it, run on the
 * target's database with a LIMIT; a seed's table read. It writes nothing, and refuses to create a
 * database that no run has built.
 */
const BIN = join(import.meta.dirname, '../../bin/smelter.js');
const smelter = (dir: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args, '--project-dir', dir], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

function project(): string {
  return writeTempProject({
    'project.yml': 'name: sh\nvars:\n  min_n: 0\ntargets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n',
    'seeds/countries.csv': 'code,name\nDE,Germany\nFR,France\n',
    'models/orders.sql': "{{ config(materialized='table') }}\nselect * from (values (1, 'DE', 10.5), (2, 'FR', null), (3, 'DE', 7.25)) as t(id, country, amount)\n",
    'models/by_country.sql': "select c.name, sum(o.amount) as total, count(*) as n from {{ ref('orders') }} o join {{ ref('countries') }} c on c.code = o.country group by all order by c.name\n",
    'models/later.sql': "select * from {{ ref('by_country') }} where n > {{ var('min_n') }}\n",
  });
}

describe('smelter show', () => {
  it('before any run: refuses, and creates no database file', () => {
    const dir = project();
    const r = smelter(dir, 'show', '--select', 'orders');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: the target's database target/dev.duckdb does not exist yet: show reads what a run built");
    expect(existsSync(join(dir, 'target/dev.duckdb'))).toBe(false);
  });

  it("previews a model's rows as a table, --limit rows of it; a seed; JSON with --output json", () => {
    const dir = project();
    expect(smelter(dir, 'build').code).toBe(0);
    const r = smelter(dir, 'show', '--select', 'by_country', 'countries', '--limit', '1');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "Previewing node 'by_country':",
        '| name   | total |   n |',
        '| ------ | ----- | --- |',
        '| France |  NULL |   1 |',
        '',
        "Previewing node 'countries':",
        '| code | name    |',
        '| ---- | ------- |',
        '| DE   | Germany |',
        '',
      ].join('\n'),
    );
    const json = smelter(dir, 'show', '--select', 'orders', '--limit', '-1', '--output', 'json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      node: 'orders',
      show: [
        { id: 1, country: 'DE', amount: 10.5 },
        { id: 2, country: 'FR', amount: null },
        { id: 3, country: 'DE', amount: 7.25 },
      ],
    });
  });

  it('--inline previews a query with refs, sources and vars; a statement that is not a query is refused, and changes nothing', async () => {
    const dir = project();
    expect(smelter(dir, 'build').code).toBe(0);
    const r = smelter(dir, 'show', '--inline', "select id, amount * {{ var('min_n') + 2 }} as doubled from {{ ref('orders') }} where amount is not null order by id");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(['Previewing inline node:', '|  id | doubled |', '| --- | ------- |', '|   1 |      21 |', '|   3 |    14.5 |', ''].join('\n'));
    const deleting = smelter(dir, 'show', '--inline', "delete from {{ ref('orders') }}", '--limit', '-1');
    expect(deleting.code).toBe(1);
    expect(deleting.stderr).toMatch(/^error: --inline: Parser Error: syntax error at or near "from"/m);
    const stacked = smelter(dir, 'show', '--inline', "select 1 as x; delete from {{ ref('orders') }}");
    expect(stacked.code).toBe(1);
    expect(await queryDuckDB(join(dir, 'target/dev.duckdb'), 'select count(*)::int as n from main.orders')).toEqual([{ n: 3 }]);
    expect(smelter(dir, 'show', '--inline', 'select 1', '--select', 'orders').stderr).toContain('error: show takes --select or --inline, not both');
  });

  it('runs the SQL the model would build (vars applied) without building it; a model reading what was never built fails, named', async () => {
    const dir = project();
    expect(smelter(dir, 'run', '--select', 'orders', 'countries').code).toBe(0);
    expect(smelter(dir, 'seed').code).toBe(0);
    const r = smelter(dir, 'show', '--select', 'later', '--vars', '{min_n: 1}');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: models\/later\.sql: Catalog Error: Table with name by_country does not exist!/m);
    expect(smelter(dir, 'run', '--select', 'by_country').code).toBe(0);
    const shown = smelter(dir, 'show', '--select', 'later', '--vars', '{min_n: 1}', '--output', 'json');
    expect(JSON.parse(shown.stdout)).toEqual({ node: 'later', show: [{ name: 'Germany', total: 17.75, n: 2 }] });
    // show built nothing: later is still not a relation.
    expect(await queryDuckDB(join(dir, 'target/dev.duckdb'), "select table_name from information_schema.tables where table_name = 'later'")).toEqual([]);
  });
});
