/** The Silver root on disk: its two tables' folders, and what a generated day reads back from them. */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readParquet, str, strList, strOrNull, type Db } from './duckdb.js';
import type { MemberRow } from './members.js';

export class GeneratorError extends Error {}

export const tableDir = (root: string, table: 'transactions' | 'members'): string => join(root, table);

/** The table's Parquet files, sorted by name (the sources read `<table>/*.parquet`). */
export function parquetFiles(root: string, table: 'transactions' | 'members'): string[] {
  const dir = tableDir(root, table);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.parquet'))
    .sort()
    .map((name) => join(dir, name));
}

/** Empty both tables' folders (their Parquet files and leftovers of interrupted writes only). */
export function resetTables(root: string): void {
  for (const table of ['transactions', 'members'] as const) {
    const dir = tableDir(root, table);
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir)) {
      if (name.endsWith('.parquet') || name.endsWith('.parquet.tmp')) rmSync(join(dir, name));
    }
  }
}

export interface SilverState {
  readonly members: MemberRow[];
  readonly maxDocId: number;
  readonly lastFilingDate: string;
  /** Filings per filing day, on average over what is there: the size of a generated day. */
  readonly filingsPerDay: number;
}

/** What a generated day builds on. An empty or half-empty root is an error. */
export async function readState(db: Db, root: string): Promise<SilverState> {
  const transactions = parquetFiles(root, 'transactions');
  const memberFiles = parquetFiles(root, 'members');
  if (transactions.length === 0 || memberFiles.length === 0) {
    const missing = transactions.length === 0 ? tableDir(root, 'transactions') : tableDir(root, 'members');
    throw new GeneratorError(`--append-day needs existing Silver data, and ${missing} has no Parquet files: generate the base first (without --append-day)`);
  }
  const [t] = await db.rows<{ max_doc: string | null; last_filing: string | null; filings: string; days: string }>(
    `SELECT max(doc_id) AS max_doc, max(filing_date)::VARCHAR AS last_filing, count(DISTINCT doc_id) AS filings, count(DISTINCT filing_date) AS days
     FROM ${readParquet(transactions)}`,
  );
  if (t.max_doc === null || t.last_filing === null) throw new GeneratorError(`the transactions in ${tableDir(root, 'transactions')} have no rows: generate the base first`);
  const members = await db.rows<MemberRow>(
    `SELECT bioguide_id, first_name, last_name, party, state, district, committees, leadership_role, effective_date::VARCHAR AS effective_date
     FROM ${readParquet(memberFiles)} ORDER BY bioguide_id, effective_date`,
  );
  return {
    members,
    maxDocId: Number(t.max_doc),
    lastFilingDate: t.last_filing,
    filingsPerDay: Number(t.filings) / Number(t.days),
  };
}

/** Write member rows, in (bioguide_id, effective_date) order, as one ZSTD Parquet file. */
export async function writeMembers(db: Db, rows: readonly MemberRow[], path: string): Promise<void> {
  const values = rows
    .map((r) =>
      [r.bioguide_id, r.first_name, r.last_name, r.party, r.state, r.district].map(str).join(', ') +
      `, ${strList(r.committees)}, ${strOrNull(r.leadership_role)}, DATE ${str(r.effective_date)}`,
    )
    .map((v) => `(${v})`)
    .join(',\n');
  await db.run(`COPY (
    SELECT bioguide_id::VARCHAR AS bioguide_id, first_name::VARCHAR AS first_name, last_name::VARCHAR AS last_name,
      party::VARCHAR AS party, state::VARCHAR AS state, district::VARCHAR AS district, committees::VARCHAR[] AS committees,
      leadership_role::VARCHAR AS leadership_role, effective_date::DATE AS effective_date
    FROM (VALUES ${values}) v(bioguide_id, first_name, last_name, party, state, district, committees, leadership_role, effective_date)
    ORDER BY bioguide_id, effective_date
  ) TO ${str(`${path}.tmp`)} (FORMAT parquet, COMPRESSION zstd)`);
  renameSync(`${path}.tmp`, path);
}
