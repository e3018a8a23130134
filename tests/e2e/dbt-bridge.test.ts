/**
 * A dbt-duckdb project whose templates query the database while they render
 * (tests/fixtures/dbt-bridge): statement/load_result in a macro, adapter.get_columns_in_relation,
 * adapter.get_relation, model, this, flags and graph, built and compiled through the CLI.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { smelterInProcess as smelter } from '../helpers/cli-in-process.js';
import { queryDuckDB } from '../helpers/duckdb.js';

function bridgeProject(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'smelter-bridge-')), 'dbt-bridge');
  cpSync(join(import.meta.dirname, '..', 'fixtures', 'dbt-bridge'), dir, { recursive: true });
  return dir;
}

const ORDER_COLUMNS_SQL = [
  'select',
  "  'BIGINT:True' as \"id\",",
  "  'VARCHAR:False' as \"status\",",
  "  'BIGINT:True' as \"amount\",",
  "  'order_columns' as model_name,",
  "  'order_columns' as this_identifier,",
  "  'COMMAND' as command,",
  "  'order_columns,orders,status_counts,with_header' as models_in_graph,",
  '  True as absent_is_none',
  '',
].join('\n');

describe('templates that query the database', () => {
  it('builds models whose columns come from the data and from the relations built before them', async () => {
    const dir = bridgeProject();
    const result = await smelter(dir, 'build');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const db = join(dir, 'target', 'bridge.duckdb');
    // One column per status, found by the statement in macros/status_columns.sql.
    expect(await queryDuckDB(db, 'select * from main.status_counts')).toEqual([{ open_count: '1', paid_count: '2', refunded_count: '1' }]);
    expect(await queryDuckDB(db, 'select * from main.order_columns')).toEqual([
      {
        id: 'BIGINT:True',
        status: 'VARCHAR:False',
        amount: 'BIGINT:True',
        model_name: 'order_columns',
        this_identifier: 'order_columns',
        command: 'build',
        models_in_graph: 'order_columns,orders,status_counts,with_header',
        absent_is_none: true,
      },
    ]);
    // The set_sql_header block ran before the model's statement.
    expect(await queryDuckDB(db, 'select * from main.with_header')).toEqual([{ header: 'set by the header' }]);
    // The bridge's queries are in the node's run file, before its own statement.
    const runFile = readFileSync(join(dir, 'target', 'run', 'models', 'status_counts.sql'), 'utf8');
    expect(runFile.split(';\n\n').slice(0, 3).map((s) => s.trim().split('\n')[0])).toEqual([
      'BEGIN TRANSACTION',
      'select distinct status from "main"."orders" order by status',
      'CREATE OR REPLACE TABLE "main"."status_counts" AS',
    ]);
  });

  it('compiles to the answered SQL', async () => {
    const dir = bridgeProject();
    expect((await smelter(dir, 'build')).code).toBe(0);
    const result = await smelter(dir, 'compile', '-s', 'order_columns', 'status_counts');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(readFileSync(join(dir, 'target', 'compiled', 'models', 'order_columns.sql'), 'utf8')).toBe(ORDER_COLUMNS_SQL.replace('COMMAND', 'compile'));
    expect(readFileSync(join(dir, 'target', 'compiled', 'models', 'status_counts.sql'), 'utf8')).toBe(
      [
        'select',
        "  count(*) filter (where status = 'open') as \"open_count\",",
        "  count(*) filter (where status = 'paid') as \"paid_count\",",
        "  count(*) filter (where status = 'refunded') as \"refunded_count\"",
        'from "main"."orders"',
        '',
      ].join('\n'),
    );
  });

  it('a query the database refuses fails the model with the template line and DuckDB\'s message', async () => {
    const dir = bridgeProject();
    writeFileSync(join(dir, 'models', 'broken.sql'), "select 1 as x\n{% set r = run_query('select * from main.nope') %}\n");
    const result = await smelter(dir, 'run', '-s', 'broken');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      '  broken: models/broken.sql:2:12: the query failed: Catalog Error: Table with name nope does not exist!',
    );
  });
});
