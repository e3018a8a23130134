import { describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { queryDuckDB } from '../helpers/duckdb.js';
import { main as generateSilver } from '../../scripts/generate-silver.js';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/smelter.js');

/** A copy of the repository's Gold project (project.yml, models, macros) in a fresh folder. */
function goldProject(): string {
  const dir = mkdtempSync(join(tmpdir(), 'smelter-gold-'));
  for (const part of ['project.yml', 'models', 'macros']) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
  return dir;
}

function smelter(dir: string, ...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args, '--project-dir', dir], { encoding: 'utf8' });
}

const TRANSACTION_COLUMNS =
  'doc_id::BIGINT AS doc_id, line_number::INTEGER AS line_number, filing_date::DATE AS filing_date, notification_date::DATE AS notification_date, ' +
  'transaction_date::DATE AS transaction_date, bioguide_id, owner, ticker, asset_name, asset_type, transaction_type, ' +
  'amount_low::DECIMAL(18,2) AS amount_low, amount_high::DECIMAL(18,2) AS amount_high, silver_ingest_ts::TIMESTAMP AS silver_ingest_ts';
const MEMBER_COLUMNS =
  'bioguide_id, first_name, last_name, party, state, district, committees::VARCHAR[] AS committees, leadership_role, effective_date::DATE AS effective_date';

/** Write one Silver Parquet file of `table` from SQL VALUES rows, with the types sources.yml declares. */
async function landSilver(dir: string, table: 'transactions' | 'members', file: string, rows: string[]): Promise<void> {
  const folder = join(dir, 'data/silver', table);
  mkdirSync(folder, { recursive: true });
  const names =
    table === 'transactions'
      ? '(doc_id, line_number, filing_date, notification_date, transaction_date, bioguide_id, owner, ticker, asset_name, asset_type, transaction_type, amount_low, amount_high, silver_ingest_ts)'
      : '(bioguide_id, first_name, last_name, party, state, district, committees, leadership_role, effective_date)';
  const columns = table === 'transactions' ? TRANSACTION_COLUMNS : MEMBER_COLUMNS;
  await queryDuckDB(':memory:', `COPY (SELECT ${columns} FROM (VALUES ${rows.join(', ')}) AS t${names}) TO '${join(folder, file)}' (FORMAT parquet)`);
}

const rowsOf = (dir: string, sql: string) => queryDuckDB(join(dir, 'target/dev.duckdb'), sql);
const lines = (rows: Array<Record<string, unknown>>) => rows.map((r) => Object.values(r).map((v) => (v === null ? 'NULL' : Array.isArray(v) ? `[${v.join('|')}]` : String(v))).join(' '));

describe('the Gold project in this repository', () => {
  it('builds dim_date on the embedded default target; a later run adds only the days a wider calendar lacks', async () => {
    const dir = goldProject();
    const run = smelter(dir, 'run', '--select', 'dim_date', '--vars', '{calendar_start: "2024-06-14", calendar_end: "2024-06-17"}');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^1 of 1 OK incremental gold\.dim_date \.+ \[4 rows in \d+\.\d\ds\]$/m);
    const rows = await rowsOf(dir, 'select * from gold.dim_date order by date_key');
    expect(rows).toEqual([
      { date_key: 20240614, date: '2024-06-14', year: 2024, quarter: 2, month: 6, month_name: 'June', day_of_month: 14, day_of_week: 5, day_name: 'Friday', week_of_year: 24, is_weekend: false },
      { date_key: 20240615, date: '2024-06-15', year: 2024, quarter: 2, month: 6, month_name: 'June', day_of_month: 15, day_of_week: 6, day_name: 'Saturday', week_of_year: 24, is_weekend: true },
      { date_key: 20240616, date: '2024-06-16', year: 2024, quarter: 2, month: 6, month_name: 'June', day_of_month: 16, day_of_week: 7, day_name: 'Sunday', week_of_year: 24, is_weekend: true },
      { date_key: 20240617, date: '2024-06-17', year: 2024, quarter: 2, month: 6, month_name: 'June', day_of_month: 17, day_of_week: 1, day_name: 'Monday', week_of_year: 25, is_weekend: false },
    ]);
    const same = smelter(dir, 'run', '--select', 'dim_date', '--vars', '{calendar_start: "2024-06-14", calendar_end: "2024-06-17"}');
    expect(same.stdout).toMatch(/^1 of 1 OK incremental gold\.dim_date \.+ \[0 rows in \d+\.\d\ds\]$/m);
    const wider = smelter(dir, 'run', '--select', 'dim_date', '--vars', '{calendar_start: "2024-06-13", calendar_end: "2024-06-18"}');
    expect(wider.stdout).toMatch(/^1 of 1 OK incremental gold\.dim_date \.+ \[2 rows in \d+\.\d\ds\]$/m);
    expect((await rowsOf(dir, 'select date_key from gold.dim_date order by date_key')).map((r) => r.date_key)).toEqual([20240613, 20240614, 20240615, 20240616, 20240617, 20240618]);
  });

  it('builds the Gold layer over two days of Silver: stable keys, member versions on the trade date (also after a change that arrives late), trending windows', async () => {
    const dir = goldProject();
    await landSilver(dir, 'members', 'day-1.parquet', [
      "('P000197', 'Nancy', 'Pelosi', 'Democrat', 'CA', '11', ['Appropriations'], NULL, '2023-01-03')",
      "('S000001', 'Ann', 'Smith', 'Republican', 'TX', '2', ['Armed Services', 'Budget'], NULL, '2023-01-03')",
    ]);
    await landSilver(dir, 'transactions', 'day-1.parquet', [
      "(20000001, 1, '2024-06-01', '2024-05-20', '2024-05-10', 'P000197', 'Self', 'NVDA', 'NVIDIA Corporation', 'Stock', 'purchase', 1001, 15000, '2024-06-02 06:00:00')",
      "(20000001, 2, '2024-06-01', '2024-05-20', '2024-05-12', 'P000197', 'Spouse', NULL, 'City of San Francisco Bond', 'Municipal Security', 'purchase', 15001, 50000, '2024-06-02 06:00:00')",
      "(20000002, 1, '2024-06-10', '2024-06-05', '2024-06-01', 'S000001', 'Self', 'NVDA', 'NVIDIA Corp', 'Stock', 'sale', 50001, 100000, '2024-06-11 06:00:00')",
    ]);
    const first = smelter(dir, 'run');
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);

    // Day 2: a new filing; Pelosi becomes Independent on 2024-06-15, and Smith's change effective
    // 2024-05-25 arrives only now, after her 2024-06-01 trade was built with her earlier version.
    await landSilver(dir, 'members', 'day-2.parquet', [
      "('P000197', 'Nancy', 'Pelosi', 'Independent', 'CA', '11', ['Appropriations'], NULL, '2024-06-15')",
      "('S000001', 'Ann', 'Smith', 'Independent', 'TX', '2', ['Armed Services', 'Budget'], NULL, '2024-05-25')",
    ]);
    await landSilver(dir, 'transactions', 'day-2.parquet', [
      "(20000003, 1, '2024-06-20', '2024-06-18', '2024-06-16', 'P000197', 'Joint', 'AAPL', 'Apple Inc.', 'Stock', 'sale_partial', 50000001, NULL, '2024-06-21 06:00:00')",
    ]);
    const second = smelter(dir, 'run');
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/OK incremental gold\.fact_ptr_transactions \.+ \[2 rows in/);

    expect(lines(await rowsOf(dir, 'select member_key, bioguide_id, party, valid_from, valid_to, is_current from gold.dim_member order by member_key'))).toEqual([
      '1 P000197 Democrat 2023-01-03 2024-06-14 false',
      '2 S000001 Republican 2023-01-03 2024-05-24 false',
      '3 P000197 Independent 2024-06-15 9999-12-31 true',
      '4 S000001 Independent 2024-05-25 9999-12-31 true',
    ]);
    expect(lines(await rowsOf(dir, 'select * from gold.dim_asset order by asset_key'))).toEqual([
      '1 NVDA NVIDIA Corporation Stock',
      '2 NULL City of San Francisco Bond Municipal Security',
      '3 AAPL Apple Inc. Stock',
    ]);
    expect(
      lines(
        await rowsOf(
          dir,
          'select transaction_key, doc_id, line_number, member_key, asset_key, transaction_date_key, amount_midpoint, days_to_notification, ticker from gold.fact_ptr_transactions order by transaction_key',
        ),
      ),
    ).toEqual([
      '1 20000001 1 1 1 20240510 8000.50 10 NVDA',
      '2 20000001 2 1 2 20240512 32500.50 8 NULL',
      '3 20000002 1 4 1 20240601 75000.50 4 NVDA',
      '4 20000003 1 3 3 20240616 50000001.00 2 AAPL',
    ]);
    expect(
      lines(
        await rowsOf(
          dir,
          `select time_window, ticker, as_of, total_transactions, total_volume, num_buyers, num_sellers, buy_volume, sell_volume, net_volume,
                  dem_transactions, rep_transactions, dem_buy_volume, rep_buy_volume, round(sentiment_score, 6) as sentiment, first_trade_date, last_trade_date
           from gold.agg_trending_stocks order by time_window, ticker`,
        ),
      ),
    ).toEqual([
      '30d AAPL 2024-06-16 1 50000001.00 0 1 0.00 50000001.00 -50000001.00 0 0 0.00 0.00 -1 2024-06-16 2024-06-16',
      '30d NVDA 2024-06-16 1 75000.50 0 1 0.00 75000.50 -75000.50 0 0 0.00 0.00 -1 2024-06-01 2024-06-01',
      '7d AAPL 2024-06-16 1 50000001.00 0 1 0.00 50000001.00 -50000001.00 0 0 0.00 0.00 -1 2024-06-16 2024-06-16',
      '90d AAPL 2024-06-16 1 50000001.00 0 1 0.00 50000001.00 -50000001.00 0 0 0.00 0.00 -1 2024-06-16 2024-06-16',
      '90d NVDA 2024-06-16 2 83001.00 1 1 8000.50 75000.50 -67000.00 1 0 8000.50 0.00 -0.807219 2024-05-10 2024-06-01',
    ]);

    // A third run with nothing new changes nothing.
    const third = smelter(dir, 'run', '--select', 'fact_ptr_transactions');
    expect(third.status).toBe(0);
    expect(third.stdout).toMatch(/OK incremental gold\.fact_ptr_transactions \.+ \[0 rows in/);

    // Day 3: a paper filing arrives late, with a 7-digit doc_id far below every one already built.
    // The run reads the new file (not a doc_id watermark), so the trade is never lost.
    await landSilver(dir, 'transactions', 'day-3-paper.parquet', [
      "(8000123, 1, '2024-06-03', '2024-05-30', '2024-05-28', 'S000001', 'Self', 'AAPL', 'Apple Inc.', 'Stock', 'purchase', 1001, 15000, '2024-06-22 06:00:00')",
    ]);
    const fourth = smelter(dir, 'run');
    expect(fourth.status).toBe(0);
    expect(fourth.stdout).toMatch(/OK incremental gold\.fact_ptr_transactions \.+ \[1 row in/);
    const fact = 'select transaction_key, doc_id, line_number, member_key, asset_key, ticker from gold.fact_ptr_transactions order by transaction_key';
    const withPaperFiling = [
      '1 20000001 1 1 1 NVDA',
      '2 20000001 2 1 2 NULL',
      '3 20000002 1 4 1 NVDA',
      '4 20000003 1 3 3 AAPL',
      '5 8000123 1 4 3 AAPL',
    ];
    expect(lines(await rowsOf(dir, fact))).toEqual(withPaperFiling);
    // The watermark still records the largest doc_id.
    const state = JSON.parse(smelter(dir, 'state', 'show', '--select', 'fact_ptr_transactions', '--output', 'json').stdout) as Array<{ last_processed_value: string }>;
    expect(state.map((r) => r.last_processed_value)).toEqual(['20000003']);

    // The Silver writer rewrites a file: it is read again; its trades keep their keys, none doubles.
    await landSilver(dir, 'transactions', 'day-2.parquet', [
      "(20000003, 1, '2024-06-20', '2024-06-18', '2024-06-16', 'P000197', 'Joint', 'AAPL', 'Apple Inc.', 'Stock', 'sale_partial', 50000001, NULL, '2024-06-21 06:00:00')",
    ]);
    const fifth = smelter(dir, 'run', '--select', 'fact_ptr_transactions');
    expect(fifth.status).toBe(0);
    expect(fifth.stdout).toMatch(/OK incremental gold\.fact_ptr_transactions \.+ \[1 row in/);
    expect(lines(await rowsOf(dir, fact))).toEqual(withPaperFiling);
  });

  it('runs the pipeline on generated Silver over appended days with late member changes: every invariant holds', async () => {
    const dir = goldProject();
    const io = { stdout: () => undefined, stderr: (t: string) => expect.fail(t), cwd: dir };
    expect(await generateSilver(['--transactions', '3000', '--seed', '7'], io)).toBe(0);
    // build: every model is published only if its tests pass (SPEC §6).
    expect(smelter(dir, 'build').status).toBe(0);
    const keysBefore = await rowsOf(dir, 'select doc_id, line_number, transaction_key from gold.fact_ptr_transactions order by all');
    for (const day of [['--late-changes', '2'], ['--late-changes', '1'], []]) {
      expect(await generateSilver(['--append-day', '--seed', '7', ...day], io)).toBe(0);
      const run = smelter(dir, 'build');
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
    }
    const count = async (sql: string) => Number((await rowsOf(dir, sql))[0].n);
    const silver = `read_parquet('${join(dir, 'data/silver/transactions/*.parquet')}')`;
    // Every Silver trade once, with its own key; keys given earlier never change.
    expect(await count('select count(*) as n from gold.fact_ptr_transactions')).toBe(await count(`select count(*) as n from ${silver}`));
    expect(await count('select count(distinct transaction_key) - count(*) as n from gold.fact_ptr_transactions')).toBe(0);
    const keysAfter = await rowsOf(dir, `select doc_id, line_number, transaction_key from gold.fact_ptr_transactions where doc_id <= ${Number(keysBefore.at(-1)!.doc_id)} order by all`);
    expect(keysAfter).toEqual(keysBefore);
    // Each trade points at the member version valid on its date, also after late changes.
    expect(
      await count(
        `select count(*) as n from gold.fact_ptr_transactions f left join gold.dim_member m
         on m.bioguide_id = f.bioguide_id and f.transaction_date between m.valid_from and m.valid_to
         where m.member_key is distinct from f.member_key`,
      ),
    ).toBe(0);
    expect(await count('select count(*) as n from gold.fact_ptr_transactions where -1 in (member_key, asset_key, transaction_date_key)')).toBe(0);
    // A member's versions are contiguous days, exactly one current, ending 9999-12-31.
    expect(
      await count(
        `select count(*) as n from (select valid_from, lag(valid_to) over (partition by bioguide_id order by valid_from) as previous_end from gold.dim_member)
         where previous_end is not null and previous_end + 1 <> valid_from`,
      ),
    ).toBe(0);
    expect(await count(`select count(*) as n from (select bioguide_id from gold.dim_member where is_current and valid_to = date '9999-12-31' group by 1 having count(*) = 1)`)).toBe(
      await count('select count(distinct bioguide_id) as n from gold.dim_member'),
    );
    expect(await count('select count(*) - count(distinct member_key) as n from gold.dim_member')).toBe(0);
    // Three windows, and the buy and sell sides add up.
    expect(await rowsOf(dir, 'select distinct time_window from gold.agg_trending_stocks order by 1')).toEqual([{ time_window: '30d' }, { time_window: '7d' }, { time_window: '90d' }]);
    expect(await count('select count(*) as n from gold.agg_trending_stocks where buy_volume + sell_volume > total_volume or net_volume <> buy_volume - sell_volume')).toBe(0);
  }, 60_000);
});
