/**
 * silver.transactions, generated in DuckDB SQL: a filing plan (doc_id, filing_date, member, number of
 * lines) and then, file by file, its lines expanded with `range(k)` and every per-trade choice made
 * by `hash(doc_id, line_number, seed, salt)`. No state but the seed: the same arguments give the
 * same rows, at a few million rows a second.
 */
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { ASSETS, STOCK_COUNT } from './assets.js';
import { epochDay } from './dates.js';
import { str, strOrNull, type Db } from './duckdb.js';
import { hash32 } from './prng.js';
import { SLOTS, assetWeights, slotRanges, type TradingMember } from './weights.js';

/** A file holds whole filings, at most about this many rows. */
export const ROWS_PER_FILE = 1_000_000;

/** Mean of the lines-per-filing distribution below (for sizing the candidate filings). */
const MEAN_LINES = 6.5;

/** doc_id = first + 3f + (0..2): gaps of 1 to 5, as the Clerk numbers other filings in between. */
const DOC_ID_STEP = 3;

/** The PTR form's amount bands: [low, high, share in 1/10,000]; the top band is open-ended. */
export const AMOUNT_BANDS: readonly (readonly [number, number | null, number])[] = [
  [1_001, 15_000, 6000],
  [15_001, 50_000, 2200],
  [50_001, 100_000, 800],
  [100_001, 250_000, 500],
  [250_001, 500_000, 250],
  [500_001, 1_000_000, 130],
  [1_000_001, 5_000_000, 80],
  [5_000_001, 25_000_000, 25],
  [25_000_001, 50_000_000, 10],
  [50_000_001, null, 5],
];

export const OWNERS = ['Self', 'Spouse', 'Joint', 'Dependent Child'] as const;
export const TRANSACTION_TYPES = ['purchase', 'sale', 'sale_partial', 'exchange'] as const;

/** Each fortnight a few stocks (ranked 10..149, not the perennial favourites) draw extra trades. */
const HOT_SHARE_PERCENT = 8;
const HOT_PER_PERIOD = 3;
const HOT_FIRST = 10;
const HOT_COUNT = Math.min(140, STOCK_COUNT - HOT_FIRST);
const HOT_PERIOD_DAYS = 14;

export interface TradeBatch {
  readonly seed: number;
  /** Mixed into the filing-level hashes so each generated day differs: 0 for the base, else the day. */
  readonly stream: number;
  /** The first doc_id that may be used. */
  readonly firstDocId: number;
  /** The filing days, in order; filings spread over them with seeded day-to-day variation. */
  readonly days: readonly string[];
  /** Exactly this many trades (the last filing cut short), or this many whole filings. */
  readonly size: { readonly trades: number } | { readonly filings: number };
  /** One file per month of filing_date (the base) or per day (a generated day). */
  readonly fileBy: 'month' | 'day';
}

export interface BatchResult {
  /** The files written, in name order. */
  readonly files: string[];
  readonly trades: number;
  readonly filings: number;
}

/** The members who trade and the assets, as lookup tables for the generation queries. */
export async function loadReference(db: Db, members: readonly TradingMember[]): Promise<void> {
  const memberValues = members.map((m, i) => `(${i}, ${str(m.bioguide_id)}, DATE ${str(m.first_date)})`).join(',\n');
  await db.run(`CREATE OR REPLACE TEMP TABLE member AS SELECT * FROM (VALUES ${memberValues}) v(idx, bioguide_id, first_date)`);
  await db.run(slotTable('member_slot', slotRanges(members.map((m) => m.weight))));
  // Members sworn in after a filing day cannot have filed then: such filings go to a member who
  // sat from the start instead.
  const start = members.reduce((earliest, m) => (m.first_date < earliest ? m.first_date : earliest), members[0].first_date);
  await db.run(slotTable('founder_slot', slotRanges(members.map((m) => (m.first_date === start ? m.weight : 0)))));
  const assetValues = ASSETS.map((a, i) => `(${i}, ${strOrNull(a.ticker)}, ${str(a.name)}, ${str(a.type)})`).join(',\n');
  await db.run(`CREATE OR REPLACE TEMP TABLE asset AS SELECT * FROM (VALUES ${assetValues}) v(idx, ticker, asset_name, asset_type)`);
  await db.run(slotTable('asset_slot', slotRanges(assetWeights())));
}

function slotTable(name: string, ranges: ReturnType<typeof slotRanges>): string {
  const values = ranges.filter((r) => r.hi > r.lo).map((r) => `(${r.index}, ${r.lo}, ${r.hi})`).join(', ');
  return `CREATE OR REPLACE TEMP TABLE ${name} AS SELECT unnest(range(lo, hi)) AS slot, idx FROM (VALUES ${values}) v(idx, lo, hi)`;
}

/** Plan the batch's filings, then write them as `filed-<month or day>[-pN].parquet` files in `dir`. */
export async function writeTransactions(db: Db, batch: TradeBatch, dir: string): Promise<BatchResult> {
  const filings = await planFilings(db, batch);
  if (filings === 0) return { files: [], trades: 0, filings: 0 };
  const parts = await db.rows<{ file_key: string; part: number; parts: number }>('SELECT DISTINCT file_key, part, parts FROM filing ORDER BY file_key, part');
  const files: string[] = [];
  for (const { file_key, part, parts: count } of parts) {
    const path = join(dir, `filed-${file_key}${count > 1 ? `-p${part + 1}` : ''}.parquet`);
    await db.run(`COPY (${tradesQuery(batch.seed, `file_key = ${str(file_key)} AND part = ${part}`)}) TO ${str(`${path}.tmp`)} (FORMAT parquet, COMPRESSION zstd)`);
    // Written under another name first: a reader globbing *.parquet never sees half a file.
    renameSync(`${path}.tmp`, path);
    files.push(path);
  }
  const [{ trades }] = await db.rows<{ trades: string }>('SELECT sum(k)::BIGINT AS trades FROM filing');
  return { files, trades: Number(trades), filings };
}

/**
 * The `filing` table: one row per filing with its doc_id, filing_date, member, ingest time, number
 * of lines k, and the file it goes to. Returns the number of filings.
 */
async function planFilings(db: Db, batch: TradeBatch): Promise<number> {
  const { seed, stream } = batch;
  const h = (salt: number, ...columns: string[]) => `hash(${[...columns, String(seed), String(stream), String(salt)].join(', ')})`;
  const lines = `CASE WHEN u < 380 THEN 1 WHEN u < 560 THEN 2 WHEN u < 680 THEN 3 WHEN u < 770 THEN 4 + v % 2
    WHEN u < 870 THEN 6 + v % 5 WHEN u < 950 THEN 11 + v % 15 WHEN u < 990 THEN 26 + v % 35 ELSE 61 + v % 90 END`;
  const candidates = (n: number) => `SELECT f, (${lines})::BIGINT AS k FROM (SELECT f, ${h(1, 'f')} % 1000 AS u, ${h(2, 'f')} AS v FROM range(${n}) t(f))`;

  if ('filings' in batch.size) {
    await db.run(`CREATE OR REPLACE TEMP TABLE kept AS SELECT f, (sum(k) OVER (ORDER BY f) - k)::BIGINT AS first_row, k FROM (${candidates(batch.size.filings)})`);
  } else {
    const trades = batch.size.trades;
    // Enough candidate filings for `trades` lines; a filing's k depends on f alone, so taking more
    // candidates never changes the ones kept.
    for (let n = Math.ceil((trades / MEAN_LINES) * 1.1) + 64; ; n *= 2) {
      await db.run(`CREATE OR REPLACE TEMP TABLE kept AS
        SELECT f, first_row, least(k, ${trades} - first_row) AS k FROM (
          SELECT f, k, (sum(k) OVER (ORDER BY f) - k)::BIGINT AS first_row FROM (${candidates(n)})
        ) WHERE first_row < ${trades}`);
      const [{ lines: planned }] = await db.rows<{ lines: string | null }>('SELECT sum(k)::BIGINT AS lines FROM kept');
      if (Number(planned ?? 0) >= trades) break;
    }
  }
  const [{ n: filings }] = await db.rows<{ n: string }>('SELECT count(*) AS n FROM kept');
  const count = Number(filings);

  // Busier and quieter days: each day weighs 0.6 .. 1.4; filing f lands on the day whose share of
  // the cumulative weight holds (f + 0.5) / count, so doc_ids rise with filing_date.
  const weights = batch.days.map((d) => 0.6 + 0.8 * (hash32(`${seed}:${stream}:${d}`) / 2 ** 32));
  const total = weights.reduce((a, b) => a + b, 0);
  let cumulative = 0;
  const dayValues = batch.days
    .map((d, i) => {
      const lo = cumulative / total;
      cumulative += weights[i];
      return `(DATE ${str(d)}, ${lo})`;
    })
    .join(', ');
  await db.run(`CREATE OR REPLACE TEMP TABLE filing_day AS SELECT day, lo::DOUBLE AS lo FROM (VALUES ${dayValues}) v(day, lo)`);

  const fileKey = batch.fileBy === 'month' ? `strftime(filing_date, '%Y-%m')` : `strftime(filing_date, '%Y-%m-%d')`;
  await db.run(`CREATE OR REPLACE TEMP TABLE filing AS
    WITH dated AS (
      SELECT kept.*, d.day AS filing_date
      FROM (SELECT *, (f + 0.5) / ${Math.max(count, 1)} AS pos FROM kept) kept
      ASOF JOIN filing_day d ON kept.pos >= d.lo
    ), planned AS (
      SELECT
        f, first_row, k,
        (${batch.firstDocId} + f * ${DOC_ID_STEP} + ${h(3, 'f')} % ${DOC_ID_STEP})::BIGINT AS doc_id,
        filing_date,
        CASE WHEN m.first_date <= filing_date THEN m.bioguide_id ELSE fm.bioguide_id END AS bioguide_id,
        CASE WHEN m.first_date <= filing_date THEN m.first_date ELSE fm.first_date END AS first_date,
        -- Silver loads a filing the evening it is filed.
        filing_date::TIMESTAMP + to_seconds((64800 + ${h(4, 'f')} % 14400)::BIGINT) AS silver_ingest_ts,
        ${fileKey} AS file_key
      FROM dated
      JOIN member_slot ms ON ms.slot = ${h(5, 'f')} % ${SLOTS}
      JOIN member m ON m.idx = ms.idx
      JOIN founder_slot fs ON fs.slot = ${h(6, 'f')} % ${SLOTS}
      JOIN member fm ON fm.idx = fs.idx
    )
    SELECT *,
      floor((first_row - min(first_row) OVER w) * parts / sum(k) OVER w)::INTEGER AS part
    FROM (SELECT *, ceil(sum(k) OVER (PARTITION BY file_key) / ${ROWS_PER_FILE})::INTEGER AS parts FROM planned)
    WINDOW w AS (PARTITION BY file_key)`);
  return count;
}

/** The trades of the filings matching `where`, with exactly the columns and types of sources.yml. */
function tradesQuery(seed: number, where: string): string {
  const h = (salt: number) => `hash(doc_id, line_number, ${seed}, ${salt})`;
  const bandCases = cumulativeCases(AMOUNT_BANDS.map(([, , share]) => share), 'u_band');
  const lows = `[${AMOUNT_BANDS.map(([low]) => low).join(', ')}]::DECIMAL(18,2)[]`;
  const highs = `[${AMOUNT_BANDS.map(([, high]) => high ?? 'NULL').join(', ')}]::DECIMAL(18,2)[]`;
  return `
    WITH line AS (
      SELECT fi.doc_id, (r.line + 1)::INTEGER AS line_number, fi.filing_date, fi.bioguide_id, fi.first_date, fi.silver_ingest_ts
      FROM filing fi, range(fi.k) r(line)
      WHERE ${where}
    ), rolled AS (
      SELECT *,
        ${h(11)} % 1000 AS u_lag, ${h(12)} % 31 AS lag_a, ${h(13)} % 15 AS lag_b, ${h(14)} % 150 AS lag_late,
        ${h(15)} % 100 AS u_notice, ${h(16)} % 20 AS notice_days,
        ${h(17)} % ${SLOTS} AS asset_slot, ${h(18)} % 100 AS u_hot, ${h(19)} % ${HOT_PER_PERIOD} AS hot_pick,
        ${h(20)} % 100 AS u_owner, ${h(21)} % 1000 AS u_type, ${h(22)} % 10000 AS u_band
      FROM line
    ), dated AS (
      -- The STOCK Act: report within 45 days of the trade; about 6% of trades are reported late.
      -- No trade precedes the member's first day in office.
      SELECT *, greatest(filing_date - (CASE WHEN u_lag < 940 THEN lag_a + lag_b ELSE 46 + lag_late END)::INTEGER, first_date) AS transaction_date
      FROM rolled
    ), noticed AS (
      -- Owners usually know of a trade the day it happens; a spouse's broker may tell them later.
      SELECT *, least(transaction_date + (CASE WHEN u_notice < 70 THEN 0 ELSE 1 + notice_days END)::INTEGER, filing_date) AS notification_date
      FROM dated
    ), priced AS (
      SELECT noticed.*,
        CASE WHEN u_hot < ${HOT_SHARE_PERCENT}
          THEN ${HOT_FIRST} + hash((transaction_date - DATE '1970-01-01') // ${HOT_PERIOD_DAYS}, hot_pick, ${seed}, 31) % ${HOT_COUNT}
          ELSE s.idx END AS asset_idx,
        ${bandCases} AS band
      FROM noticed JOIN asset_slot s ON s.slot = noticed.asset_slot
    )
    SELECT
      doc_id::BIGINT AS doc_id,
      line_number,
      filing_date::DATE AS filing_date,
      notification_date::DATE AS notification_date,
      transaction_date::DATE AS transaction_date,
      bioguide_id::VARCHAR AS bioguide_id,
      (CASE WHEN u_owner < 45 THEN 'Self' WHEN u_owner < 80 THEN 'Spouse' WHEN u_owner < 95 THEN 'Joint' ELSE 'Dependent Child' END)::VARCHAR AS owner,
      a.ticker::VARCHAR AS ticker,
      a.asset_name::VARCHAR AS asset_name,
      a.asset_type::VARCHAR AS asset_type,
      (CASE WHEN u_type < 540 THEN 'purchase' WHEN u_type < 780 THEN 'sale' WHEN u_type < 985 THEN 'sale_partial' ELSE 'exchange' END)::VARCHAR AS transaction_type,
      (${lows})[band + 1] AS amount_low,
      (${highs})[band + 1] AS amount_high,
      silver_ingest_ts::TIMESTAMP AS silver_ingest_ts
    FROM priced JOIN asset a ON a.idx = priced.asset_idx
    ORDER BY doc_id, line_number`;
}

/** CASE mapping `column` (uniform in [0, sum of shares)) to the index of its share. */
function cumulativeCases(shares: readonly number[], column: string): string {
  let bound = 0;
  const whens = shares.slice(0, -1).map((share, i) => {
    bound += share;
    return `WHEN ${column} < ${bound} THEN ${i}`;
  });
  return `(CASE ${whens.join(' ')} ELSE ${shares.length - 1} END)`;
}

/** The epoch day of `iso`: the stream of a generated day. */
export const dayStream = (iso: string): number => epochDay(iso);
