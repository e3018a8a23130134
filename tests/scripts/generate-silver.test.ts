import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { parse } from 'yaml';
import { main } from '../../scripts/generate-silver.js';

/**
 * The Silver generator (scripts/generate-silver.ts), run through its exported main() on small sizes,
 * its output read back with DuckDB. The expectations come from SPEC §11, models/silver/sources.yml
 * and the PTR form, not from the generator's own tables.
 */

const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const TRADES = 2_000;

/** The PTR form's amount bands; only the open-ended top band has no upper bound. */
const BANDS = [
  [1001, 15000],
  [15001, 50000],
  [50001, 100000],
  [100001, 250000],
  [250001, 500000],
  [500001, 1000000],
  [1000001, 5000000],
  [5000001, 25000000],
  [25000001, 50000000],
  [50000001, null],
];

const scratch: string[] = [];
afterAll(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'smelter-silver-'));
  scratch.push(dir);
  return dir;
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function generate(...argv: string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), cwd: REPO_ROOT });
  return { code, stdout, stderr };
}

async function generated(...argv: string[]): Promise<string> {
  const dir = scratchDir();
  const outcome = await generate('--out', dir, ...argv);
  expect(outcome).toMatchObject({ code: 0, stderr: '' });
  return dir;
}

let duck: DuckDBInstance;
let connection: DuckDBConnection;
beforeAll(async () => {
  duck = await DuckDBInstance.create(':memory:');
  connection = await duck.connect();
});
afterAll(() => {
  connection.closeSync();
  duck.closeSync();
});

async function query(sql: string): Promise<Record<string, unknown>[]> {
  return (await (await connection.run(sql)).getRowObjectsJson()) as Record<string, unknown>[];
}
async function one(sql: string): Promise<unknown> {
  const [row] = await query(sql);
  return Object.values(row)[0];
}

const files = (dir: string, table: string): string[] =>
  existsSync(join(dir, table)) ? readdirSync(join(dir, table)).sort().map((name) => join(dir, table, name)) : [];
const read = (paths: readonly string[]): string => `read_parquet([${paths.map((p) => `'${p}'`).join(', ')}])`;
const T = (dir: string) => read(files(dir, 'transactions'));
const M = (dir: string) => read(files(dir, 'members'));

/** Every file of `dir` (relative path -> sha256). */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const table of ['transactions', 'members']) {
    for (const path of files(dir, table)) out[`${table}/${path.split('/').at(-1)}`] = createHash('sha256').update(readFileSync(path)).digest('hex');
  }
  return out;
}

function nextWeekday(iso: string): string {
  const d = new Date(`${iso}T00:00:00Z`);
  do d.setUTCDate(d.getUTCDate() + 1);
  while (d.getUTCDay() === 0 || d.getUTCDay() === 6);
  return d.toISOString().slice(0, 10);
}

/** The invariants of SPEC §11 that hold for any state of the Silver root. */
async function expectInvariants(dir: string): Promise<void> {
  const t = T(dir);
  const m = M(dir);
  expect(await query(`SELECT count(*) - count(DISTINCT (doc_id, line_number)) AS duplicate_lines FROM ${t}`)).toEqual([{ duplicate_lines: '0' }]);
  // Lines are the positions 1..k of the trades in their filing, which share the filing's fields.
  expect(
    await query(`SELECT count(*) AS bad_filings FROM (
      SELECT doc_id FROM ${t} GROUP BY doc_id
      HAVING min(line_number) <> 1 OR max(line_number) <> count(*) OR count(DISTINCT line_number) <> count(*)
        OR count(DISTINCT filing_date) <> 1 OR count(DISTINCT bioguide_id) <> 1 OR count(DISTINCT silver_ingest_ts) <> 1
        OR count(filing_date) <> count(*) OR count(bioguide_id) <> count(*) OR count(silver_ingest_ts) <> count(*))`),
  ).toEqual([{ bad_filings: '0' }]);
  // doc_ids rise with filing_date.
  expect(
    await one(`SELECT count(*) FROM (SELECT filing_date, lag(filing_date) OVER (ORDER BY doc_id, line_number) AS before FROM ${t}) WHERE filing_date < before`),
  ).toBe('0');
  expect(await one(`SELECT min(doc_id) >= 20000000 FROM ${t}`)).toBe(true);
  expect(
    await one(`SELECT count(*) FROM ${t} WHERE NOT (transaction_date <= notification_date AND notification_date <= filing_date) OR transaction_date IS NULL OR notification_date IS NULL`),
  ).toBe('0');
  const bands = (await query(`SELECT DISTINCT amount_low::DOUBLE AS low, amount_high::DOUBLE AS high FROM ${t} ORDER BY low`)).map((r) => [r.low, r.high]);
  expect(BANDS).toEqual(expect.arrayContaining(bands));
  expect(await one(`SELECT count(*) FROM ${t} WHERE amount_low IS NULL OR (amount_high IS NULL) <> (amount_low = 50000001)`)).toBe('0');
  expect(await query(`SELECT DISTINCT owner FROM ${t} WHERE owner NOT IN ('Self', 'Spouse', 'Joint', 'Dependent Child') OR owner IS NULL`)).toEqual([]);
  expect(await query(`SELECT DISTINCT transaction_type FROM ${t} WHERE transaction_type NOT IN ('purchase', 'sale', 'sale_partial', 'exchange') OR transaction_type IS NULL`)).toEqual([]);
  expect(
    await query(`SELECT DISTINCT asset_type FROM ${t}
      WHERE asset_type NOT IN ('Stock', 'Stock Option', 'ETF', 'Corporate Bond', 'Municipal Security', 'Mutual Fund', 'Cryptocurrency') OR asset_type IS NULL`),
  ).toEqual([]);
  expect(await one(`SELECT count(*) FROM ${t} WHERE asset_name IS NULL OR (ticker IS NULL AND asset_type IN ('Stock', 'ETF', 'Stock Option'))`)).toBe('0');
  expect(await one(`SELECT count(*) FROM ${t} WHERE ticker IS NOT NULL AND asset_type IN ('Corporate Bond', 'Municipal Security')`)).toBe('0');

  expect(await query(`SELECT DISTINCT party FROM ${m} WHERE party NOT IN ('Democrat', 'Republican', 'Independent') OR party IS NULL`)).toEqual([]);
  expect(
    await one(`SELECT count(*) FROM ${m}
      WHERE NOT regexp_full_match(bioguide_id, '[A-Z][0-9]{6}') OR NOT regexp_full_match(state, '[A-Z]{2}')
        OR NOT regexp_full_match(district, '[1-9][0-9]*|AL') OR len(committees) = 0 OR first_name IS NULL OR last_name IS NULL OR effective_date IS NULL`),
  ).toBe('0');
  expect(await one(`SELECT count(*) - count(DISTINCT (bioguide_id, effective_date)) FROM ${m}`)).toBe('0');
  // Every trade's member has a version in effect on the trade date.
  expect(
    await one(`SELECT count(*) FROM ${t} tr WHERE NOT EXISTS (SELECT 1 FROM ${m} mb WHERE mb.bioguide_id = tr.bioguide_id AND mb.effective_date <= tr.transaction_date)`),
  ).toBe('0');
}

describe('generate-silver: the base', () => {
  // Large enough that members sworn in during 2024 trade, some of them right after their start.
  const BASE_TRADES = 20_000;
  let base: string;
  beforeAll(async () => {
    base = await generated('--transactions', String(BASE_TRADES), '--seed', '7');
  });

  it('writes exactly the columns, order and types sources.yml declares, in every file', async () => {
    const sources = parse(readFileSync(join(REPO_ROOT, 'models/silver/sources.yml'), 'utf8')) as {
      sources: { name: string; tables: { name: string; columns: { name: string; data_type: string }[] }[] }[];
    };
    const tables = sources.sources.find((s) => s.name === 'silver')!.tables;
    expect(tables.map((t) => t.name).sort()).toEqual(['members', 'transactions']);
    for (const table of tables) {
      const declared = table.columns.map((c) => [c.name, c.data_type]);
      expect(files(base, table.name).length).toBeGreaterThan(0);
      for (const path of files(base, table.name)) {
        const described = (await query(`DESCRIBE SELECT * FROM read_parquet('${path}')`)).map((r) => [r.column_name, r.column_type]);
        expect(described, path).toEqual(declared);
      }
    }
  });

  it('writes N trades in a ZSTD Parquet file per filing month, and about 440 members', async () => {
    expect(await one(`SELECT count(*) FROM ${T(base)}`)).toBe(String(BASE_TRADES));
    const months = await query(`SELECT DISTINCT strftime(filing_date, '%Y-%m') AS m FROM ${T(base)} ORDER BY m`);
    expect(files(base, 'transactions').map((p) => p.split('/').at(-1))).toEqual(months.map((r) => `filed-${r.m}.parquet`));
    expect(files(base, 'members').map((p) => p.split('/').at(-1))).toEqual(['base.parquet']);
    const codecs = await query(
      `SELECT DISTINCT compression FROM parquet_metadata([${[...files(base, 'transactions'), ...files(base, 'members')].map((p) => `'${p}'`).join(', ')}])`,
    );
    expect(codecs).toEqual([{ compression: 'ZSTD' }]);
    const members = Number(await one(`SELECT count(DISTINCT bioguide_id) FROM ${M(base)}`));
    expect(members).toBeGreaterThanOrEqual(430);
    expect(members).toBeLessThanOrEqual(460);
  });

  it('keeps the invariants of filings, dates, bands, enums and members', async () => {
    await expectInvariants(base);
    // Members sworn in mid-term trade, never before their first day: the invariant has teeth.
    expect(
      await query(`SELECT count(*) > 0 AS trades, count(*) FILTER (transaction_date = start) > 0 AS on_first_day FROM ${T(base)}
        JOIN (SELECT bioguide_id, min(effective_date) AS start FROM ${M(base)} GROUP BY 1) USING (bioguide_id) WHERE start > DATE '2023-01-03'`),
    ).toEqual([{ trades: true, on_first_day: true }]);
    // Filings come in on the weekdays of the base year.
    expect(await query(`SELECT min(filing_date)::VARCHAR AS lo, max(filing_date)::VARCHAR AS hi, max(isodow(filing_date)) AS dow FROM ${T(base)}`)).toEqual([
      { lo: '2024-01-02', hi: '2024-12-31', dow: '5' },
    ]);
  });

  it('has realistic members: an initial row each, then changes of committees, party, district or leadership', async () => {
    const m = M(base);
    const original = await one(`SELECT count(*) FROM (SELECT bioguide_id, min(effective_date) AS first FROM ${m} GROUP BY 1) WHERE first = DATE '2023-01-03'`);
    expect(Number(original)).toBeGreaterThanOrEqual(430);
    expect(Number(await one(`SELECT count(*) FROM (SELECT bioguide_id FROM ${m} GROUP BY 1 HAVING count(*) > 1)`))).toBeGreaterThan(20);
    const changed = await query(`
      WITH v AS (SELECT *, lag(party) OVER w AS p, lag(committees) OVER w AS c, lag(district) OVER w AS d, lag(leadership_role) OVER w AS l, lag(effective_date) OVER w AS prev
                 FROM ${m} WINDOW w AS (PARTITION BY bioguide_id ORDER BY effective_date))
      SELECT count(*) FILTER (party <> p) AS party, count(*) FILTER (committees <> c) AS committees, count(*) FILTER (district <> d) AS district,
             count(*) FILTER (leadership_role IS DISTINCT FROM l) AS leadership,
             count(*) FILTER (party = p AND committees = c AND district = d AND leadership_role IS NOT DISTINCT FROM l) AS no_change
      FROM v WHERE prev IS NOT NULL`);
    expect(changed[0]).toMatchObject({ no_change: '0' });
    for (const kind of ['party', 'committees', 'district', 'leadership']) expect(Number(changed[0][kind]), kind).toBeGreaterThan(0);
    expect(Number(await one(`SELECT count(*) FROM ${m} WHERE leadership_role IS NULL`)) / Number(await one(`SELECT count(*) FROM ${m}`))).toBeGreaterThan(0.9);
  });

  it('skews trades: small bands dominate, a few tickers and members trade far more than the rest', async () => {
    const t = T(base);
    expect(Number(await one(`SELECT count(*) FILTER (amount_low = 1001) / count(*) FROM ${t}`))).toBeGreaterThan(0.4);
    expect(Number(await one(`SELECT count(*) FILTER (amount_low >= 1000001) / count(*) FROM ${t}`))).toBeLessThan(0.05);
    expect(Number(await one(`SELECT count(*) FILTER (asset_type = 'Stock') / count(*) FROM ${t}`))).toBeGreaterThan(0.6);
    const tickers = (await query(`SELECT count(*) AS n FROM ${t} WHERE ticker IS NOT NULL GROUP BY ticker ORDER BY n DESC`)).map((r) => Number(r.n));
    expect(tickers.length).toBeGreaterThan(100);
    expect(tickers[0]).toBeGreaterThan(10 * tickers[Math.floor(tickers.length / 2)]);
    const traders = (await query(`SELECT count(*) AS n FROM ${t} GROUP BY bioguide_id ORDER BY n DESC`)).map((r) => Number(r.n));
    expect(traders[0]).toBeGreaterThan(10 * traders[Math.floor(traders.length / 2)]);
  });

  it('is deterministic: the same seed gives byte-identical files, another seed other rows', async () => {
    const again = await generated('--transactions', String(BASE_TRADES), '--seed', '7');
    const other = await generated('--transactions', String(BASE_TRADES), '--seed', '8');
    expect(fingerprint(again)).toEqual(fingerprint(base));
    const rows = (dir: string, table: 'T' | 'M') =>
      query(`SELECT * FROM ${table === 'T' ? T(dir) : M(dir)} ORDER BY ALL`).then((r) => JSON.stringify(r));
    expect(await rows(again, 'T')).toBe(await rows(base, 'T'));
    expect(await rows(other, 'T')).not.toBe(await rows(base, 'T'));
    expect(await rows(other, 'M')).not.toBe(await rows(base, 'M'));
    expect(await one(`SELECT count(*) FROM ${T(other)}`)).toBe(String(BASE_TRADES));
  });

  it('replaces what an earlier base left in the folder', async () => {
    const dir = await generated('--transactions', '3000', '--seed', '1');
    await generate('--out', dir, '--append-day');
    expect(await generate('--out', dir, '--transactions', '500', '--seed', '1')).toMatchObject({ code: 0 });
    expect(await one(`SELECT count(*) FROM ${T(dir)}`)).toBe('500');
    expect(files(dir, 'members').map((p) => p.split('/').at(-1))).toEqual(['base.parquet']);
  });
});

describe('generate-silver --append-day', () => {
  let base: string;
  beforeAll(async () => {
    base = await generated('--transactions', String(TRADES), '--seed', '11');
  });

  function copyOfBase(): string {
    const dir = scratchDir();
    cpSync(base, dir, { recursive: true });
    return dir;
  }

  async function appendDay(dir: string, ...argv: string[]): Promise<{ day: string; added: string[] }> {
    const before = fingerprint(dir);
    const lastDay = String(
      await one(`SELECT greatest((SELECT max(filing_date) FROM ${T(dir)}), (SELECT max(effective_date) FROM ${M(dir)}))::VARCHAR`),
    );
    const maxDoc = Number(await one(`SELECT max(doc_id) FROM ${T(dir)}`));
    const outcome = await generate('--out', dir, '--append-day', ...argv);
    expect(outcome).toMatchObject({ code: 0, stderr: '' });
    const after = fingerprint(dir);
    // Old files untouched, byte for byte; only new files added.
    expect(Object.fromEntries(Object.entries(after).filter(([name]) => name in before))).toEqual(before);
    const added = Object.keys(after).filter((name) => !(name in before)).sort();
    const day = nextWeekday(lastDay);
    expect(added.filter((name) => name.startsWith('transactions/'))).toEqual([`transactions/filed-${day}.parquet`]);
    const newTrades = read([join(dir, `transactions/filed-${day}.parquet`)]);
    expect(await query(`SELECT DISTINCT filing_date::VARCHAR AS d FROM ${newTrades}`)).toEqual([{ d: day }]);
    expect(await one(`SELECT min(doc_id) > ${maxDoc} FROM ${newTrades}`)).toBe(true);
    await expectInvariants(dir);
    return { day, added };
  }

  /** The day's new member rows: effective that day, or late (before the member's latest earlier row). */
  async function memberChanges(dir: string, day: string): Promise<{ onDay: number; late: number }> {
    const changes = read([join(dir, `members/changes-${day}.parquet`)]);
    const old = read(files(dir, 'members').filter((p) => !p.endsWith(`changes-${day}.parquet`)));
    const [row] = await query(`
      SELECT count(*) FILTER (c.effective_date = DATE '${day}') AS on_day,
             count(*) FILTER (c.effective_date < o.latest) AS late,
             count(*) FILTER (NOT (c.effective_date = DATE '${day}' OR c.effective_date < o.latest) OR o.latest IS NULL OR c.effective_date <= o.first) AS other
      FROM ${changes} c LEFT JOIN (SELECT bioguide_id, min(effective_date) AS first, max(effective_date) AS latest FROM ${old} GROUP BY 1) o USING (bioguide_id)`);
    expect(row.other).toBe('0');
    return { onDay: Number(row.on_day), late: Number(row.late) };
  }

  it("adds the next day's filings and member changes as new files, day after day", async () => {
    const dir = copyOfBase();
    const first = await appendDay(dir);
    expect(first.day).toBe('2025-01-01');
    expect(first.added).toEqual(['members/changes-2025-01-01.parquet', 'transactions/filed-2025-01-01.parquet']);
    const changes = await memberChanges(dir, first.day);
    expect(changes.onDay).toBeGreaterThanOrEqual(1);
    expect(changes.onDay).toBeLessThanOrEqual(3);
    // About an average base day's filings (TRADES trades over 2024's 262 weekdays).
    const filings = Number(await one(`SELECT count(DISTINCT doc_id) FROM read_parquet('${join(dir, 'transactions/filed-2025-01-01.parquet')}')`));
    const perDay = Number(await one(`SELECT count(DISTINCT doc_id) / count(DISTINCT filing_date) FROM ${T(base)}`));
    expect(filings).toBeGreaterThanOrEqual(Math.max(1, Math.floor(perDay * 0.6)));
    expect(filings).toBeLessThanOrEqual(Math.ceil(perDay * 1.4));

    const second = await appendDay(dir);
    expect(second.day).toBe('2025-01-02');
    const third = await appendDay(dir, '--seed', '5');
    expect(third.day).toBe('2025-01-03');
    await appendDay(dir).then(({ day }) => expect(day).toBe('2025-01-06'));
  });

  it('--late-changes N makes exactly N late member changes that day', async () => {
    const dir = copyOfBase();
    const { day } = await appendDay(dir, '--late-changes', '3');
    expect((await memberChanges(dir, day)).late).toBe(3);
    const next = await appendDay(dir, '--late-changes', '0');
    expect((await memberChanges(dir, next.day)).late).toBe(0);
  });

  it('--transactions N with --append-day gives the day exactly N trades', async () => {
    const dir = copyOfBase();
    const { day } = await appendDay(dir, '--transactions', '57');
    expect(await one(`SELECT count(*) FROM read_parquet('${join(dir, `transactions/filed-${day}.parquet`)}')`)).toBe('57');
  });

  it('is deterministic: the same base and seed give byte-identical days', async () => {
    const a = copyOfBase();
    const b = copyOfBase();
    await appendDay(a, '--seed', '3');
    await appendDay(b, '--seed', '3');
    expect(fingerprint(b)).toEqual(fingerprint(a));
  });

  it('on an empty folder is an error that says to generate the base first', async () => {
    const dir = scratchDir();
    const outcome = await generate('--out', dir, '--append-day');
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(/^generate-silver: --append-day needs existing Silver data, .* generate the base first/);
    expect(outcome.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('generate-silver: bad arguments', () => {
  it.each([
    [['--bogus'], 'unknown option --bogus'],
    [['--transactions', '12x'], '--transactions must be a non-negative integer, got "12x"'],
    [['--transactions', '-5'], '--transactions must be a non-negative integer, got "-5"'],
    [['--transactions=-5'], '--transactions must be a non-negative integer, got "-5"'],
    [['--seed', '1.5'], '--seed must be a non-negative integer, got "1.5"'],
    [['--transactions'], '--transactions needs a value'],
    [['--late-changes', '2'], '--late-changes needs --append-day'],
    [['--append-day', '--late-changes', 'two'], '--late-changes must be a non-negative integer, got "two"'],
    [['extra'], 'unexpected argument "extra"'],
  ])('%j: exit 2 with one line', async (argv, message) => {
    const dir = scratchDir();
    const outcome = await generate('--out', dir, ...argv);
    expect(outcome).toEqual({ code: 2, stdout: '', stderr: `generate-silver: ${message} (--help for usage)\n` });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a --out that is not a folder is one line and exit 1', async () => {
    const file = join(scratchDir(), 'file');
    writeFileSync(file, '');
    const outcome = await generate('--out', file, '--transactions', '10');
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(/^generate-silver: ENOTDIR: not a directory, mkdir '.*file\/transactions'\n$/);
  });

  it.skipIf(!existsSync(join(REPO_ROOT, 'dist/scripts/generate-silver.js')))('the compiled script exits 2 on an unknown flag', () => {
    const result = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/scripts/generate-silver.js'), '--bogus'], { encoding: 'utf8' });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 2, stderr: 'generate-silver: unknown option --bogus (--help for usage)\n' });
  });
});
