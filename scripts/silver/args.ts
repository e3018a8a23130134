/** The generator's command line. Any mistake is a UsageError: one line, exit code 2. */

export interface Options {
  /** Base: the number of trades. A generated day: the day's trades (default: an average day's filings). */
  readonly transactions: number | undefined;
  readonly seed: number;
  readonly out: string;
  readonly appendDay: boolean;
  readonly lateChanges: number | undefined;
  readonly help: boolean;
}

export const DEFAULT_TRANSACTIONS = 50_000;
export const DEFAULT_SEED = 42;
export const DEFAULT_OUT = 'data/silver';

export const USAGE = `usage: npm run generate -- [--transactions N] [--seed S] [--out DIR] [--append-day [--late-changes N]]

  --transactions N   trades to generate (default ${DEFAULT_TRANSACTIONS.toLocaleString('en-US')}); with --append-day, that day's trades
  --seed S           seed of every random choice (default ${DEFAULT_SEED})
  --out DIR          the Silver root, holding transactions/ and members/ (default ${DEFAULT_OUT})
  --append-day       add the next day's filings and member changes to DIR as new files
  --late-changes N   with --append-day: exactly N late member changes that day`;

export class UsageError extends Error {}

const VALUE_FLAGS = new Set(['--transactions', '--seed', '--out', '--late-changes']);

export function parseArgs(argv: readonly string[]): Options {
  const values = new Map<string, string>();
  let appendDay = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (flag === '--append-day' || flag === '--help' || flag === '-h') {
      if (flag !== arg) throw new UsageError(`${flag} takes no value`);
      if (flag === '--append-day') appendDay = true;
      else help = true;
      continue;
    }
    if (!VALUE_FLAGS.has(flag)) {
      throw new UsageError(arg.startsWith('-') ? `unknown option ${flag}` : `unexpected argument ${JSON.stringify(arg)}`);
    }
    if (values.has(flag)) throw new UsageError(`${flag} given twice`);
    const value = flag !== arg ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (flag === arg && value.startsWith('--'))) throw new UsageError(`${flag} needs a value`);
    values.set(flag, value);
  }
  const lateChanges = integer(values, '--late-changes');
  if (lateChanges !== undefined && !appendDay) throw new UsageError('--late-changes needs --append-day');
  const out = values.get('--out');
  if (out === '') throw new UsageError('--out needs a value');
  return {
    transactions: integer(values, '--transactions'),
    seed: integer(values, '--seed') ?? DEFAULT_SEED,
    out: out ?? DEFAULT_OUT,
    appendDay,
    lateChanges,
    help,
  };
}

/** A non-negative integer flag; seeds and counts beyond 2^53 are refused rather than rounded. */
function integer(values: ReadonlyMap<string, string>, flag: string): number | undefined {
  const text = values.get(flag);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) {
    throw new UsageError(`${flag} must be a non-negative integer, got ${JSON.stringify(text)}`);
  }
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new UsageError(`${flag} is too large: ${text}`);
  return n;
}
