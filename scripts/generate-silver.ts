/**
 * The Silver data generator (SPEC §11): realistic, deterministic silver.transactions and
 * silver.members as ZSTD Parquet, at any size, and day-by-day increments for incremental runs.
 *
 *   npm run generate -- [--transactions N] [--seed S] [--out DIR] [--append-day [--late-changes N]]
 *
 * See scripts/README.md for what it writes and why.
 */
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_TRANSACTIONS, USAGE, UsageError, parseArgs, type Options } from './silver/args.js';
import { maxDate, nextWeekday, weekdays } from './silver/dates.js';
import { openDb, type Db } from './silver/duckdb.js';
import { baseMembers, dayMemberChanges } from './silver/members.js';
import { createRng } from './silver/prng.js';
import { GeneratorError, parquetFiles, readState, resetTables, tableDir, writeMembers } from './silver/silver-dir.js';
import { dayStream, loadReference, writeTransactions, type BatchResult } from './silver/transactions.js';
import { tradingMembers } from './silver/weights.js';

/** The base covers the filings of 2024's weekdays: a generated day is about 1/262 of it. */
export const BASE_FIRST_FILING_DAY = '2024-01-02';
export const BASE_LAST_FILING_DAY = '2024-12-31';
export const FIRST_DOC_ID = 20_000_000;
export const BASE_MEMBERS_FILE = 'base.parquet';

export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Relative --out paths resolve against it. */
  readonly cwd: string;
}

const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  cwd: process.cwd(),
};

/** Run the generator; resolves to the exit code (0 done, 1 failed, 2 bad usage). */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  let options: Options;
  try {
    options = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`generate-silver: ${error.message} (--help for usage)\n`);
    return 2;
  }
  if (options.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  const root = resolve(io.cwd, options.out);
  const started = performance.now();
  const db = await openDb();
  try {
    const summary = options.appendDay ? await appendDay(db, root, options) : await generateBase(db, root, options);
    io.stdout(`${summary} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    return 0;
  } catch (error) {
    // Our own errors and the file system's (a path that is not a folder, no permission) are the
    // user's to fix: one line. Anything else is a bug: its stack.
    if (!(error instanceof GeneratorError) && typeof (error as NodeJS.ErrnoException).code !== 'string') throw error;
    io.stderr(`generate-silver: ${(error as Error).message}\n`);
    return 1;
  } finally {
    db.close();
  }
}

/** Replace whatever is in the root's two folders with a fresh base. */
async function generateBase(db: Db, root: string, options: Options): Promise<string> {
  const { seed } = options;
  resetTables(root);
  const members = baseMembers(seed);
  await writeMembers(db, members, join(tableDir(root, 'members'), BASE_MEMBERS_FILE));
  await loadReference(db, tradingMembers(members, seed));
  const result = await writeTransactions(
    db,
    {
      seed,
      stream: 0,
      firstDocId: FIRST_DOC_ID,
      days: weekdays(BASE_FIRST_FILING_DAY, BASE_LAST_FILING_DAY),
      size: { trades: options.transactions ?? DEFAULT_TRANSACTIONS },
      fileBy: 'month',
    },
    tableDir(root, 'transactions'),
  );
  return `wrote ${describe(result)} and ${count(members.length, 'member row')} to ${root}`;
}

/**
 * Add the next weekday after everything in the root: its filings (about an average base day's
 * number, or --transactions trades) and member changes, as new files beside the old ones.
 */
async function appendDay(db: Db, root: string, options: Options): Promise<string> {
  const { seed } = options;
  const state = await readState(db, root);
  const lastDay = state.members.reduce((latest, r) => maxDate(latest, r.effective_date), state.lastFilingDate);
  const day = nextWeekday(lastDay);

  const transactionsDir = tableDir(root, 'transactions');
  const membersFile = join(tableDir(root, 'members'), `changes-${day}.parquet`);
  const clash = [membersFile, ...parquetFiles(root, 'transactions').filter((f) => f.startsWith(join(transactionsDir, `filed-${day}`)))].find(existsSync);
  if (clash !== undefined) throw new GeneratorError(`${clash} exists already: refusing to overwrite it`);

  let changes: ReturnType<typeof dayMemberChanges>;
  try {
    changes = dayMemberChanges(state.members, day, seed, options.lateChanges);
  } catch (error) {
    throw new GeneratorError((error as Error).message);
  }
  // A day's volume varies around the average day: 0.6 to 1.4 times it.
  const jitter = 0.6 + 0.8 * createRng(seed, `size:${day}`).next();
  const size = options.transactions !== undefined ? { trades: options.transactions } : { filings: Math.max(1, Math.round(state.filingsPerDay * jitter)) };

  await loadReference(db, tradingMembers(state.members, seed));
  mkdirSync(transactionsDir, { recursive: true });
  const result = await writeTransactions(db, { seed, stream: dayStream(day), firstDocId: state.maxDocId + 1, days: [day], size, fileBy: 'day' }, transactionsDir);
  if (changes.rows.length > 0) await writeMembers(db, changes.rows, membersFile);
  const late = changes.late > 0 ? ` (${changes.late} late)` : '';
  return `appended ${day} to ${root}: ${describe(result)}, ${count(changes.rows.length, 'member change')}${late}`;
}

function describe(result: BatchResult): string {
  return `${count(result.trades, 'trade')} in ${count(result.filings, 'filing')} (${count(result.files.length, 'file')})`;
}

const count = (n: number, noun: string): string => `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`generate-silver: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
