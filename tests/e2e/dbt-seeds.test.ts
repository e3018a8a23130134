/**
 * dbt seeds as real projects configure them (tests/fixtures/dbt-seeds): a `delimiter`, pre- and
 * post-hooks that render when they run (a post-hook sees the loaded rows; `adapter.drop_relation`
 * runs at once), `quote_columns`, a seed with a header and no rows, and seed config in a properties
 * file beside the CSVs.
 */
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { smelterInProcess as smelter } from '../helpers/cli-in-process.js';
import { queryDuckDB } from '../helpers/duckdb.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'dbt-seeds');

function seedProject(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'smelter-dbt-seeds-')), 'dbt-seeds');
  cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

describe('dbt seeds', () => {
  it('loads with the delimiter, column types and hooks the project configures', async () => {
    const dir = seedProject();
    const result = await smelter(dir, 'seed');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const db = join(dir, 'target', 'seeds.duckdb');
    // delimiter '|': the comma is data, and a quoted value may hold the delimiter.
    expect(await queryDuckDB(db, 'select sku, "Name", price::varchar as price, typeof(price) as type from analytics.prices order by sku')).toEqual([
      { sku: 'A-1', Name: 'Widget, large', price: '9.50', type: 'DECIMAL(10,2)' },
      { sku: 'B-2', Name: 'Gadget | small', price: '3.25', type: 'DECIMAL(10,2)' },
    ]);
    // A header and no rows: an empty table with its columns.
    expect(await queryDuckDB(db, "select column_name, data_type from information_schema.columns where table_name = 'no_rows' order by ordinal_position")).toEqual([
      { column_name: 'id', data_type: 'VARCHAR' },
      { column_name: 'note', data_type: 'VARCHAR' },
    ]);
    // The pre-hook made the log; the folder's post-hook counted the rows it had just loaded.
    expect(await queryDuckDB(db, 'select seed, n::int as n from analytics.load_log')).toEqual([{ seed: 'tickets', n: 3 }]);
    expect(await queryDuckDB(db, 'select "Status", count(*)::int as n from analytics_audit.tickets group by all order by 1')).toEqual([
      { Status: 'closed', n: 1 },
      { Status: 'open', n: 2 },
    ]);
    // The post-hook's adapter.drop_relation ran after the load.
    expect(await queryDuckDB(db, "select count(*)::int as n from information_schema.tables where table_name = 'scratch'")).toEqual([{ n: 0 }]);
  });

  it('a row that does not split into the header under the delimiter is one located error, and nothing loads', async () => {
    const dir = seedProject();
    writeFileSync(join(dir, 'seeds', 'prices.csv'), 'sku|Name|price\nA-1,Widget,9.50\n');
    const result = await smelter(dir, 'seed');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('error: seeds/prices.csv:2: this row has 1 value for 3 columns (sku, Name, price)\n');
  });

  it('a delimiter of more than one character is refused at its line', async () => {
    const dir = seedProject();
    writeFileSync(join(dir, 'seeds', 'properties.yml'), "seeds:\n  - name: prices\n    config:\n      delimiter: '||'\n");
    const result = await smelter(dir, 'seed');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('error: seeds/properties.yml:4:7: config delimiter must be one character, such as \',\' or \'|\', got "||"\n');
  });
});
