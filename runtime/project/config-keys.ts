/**
 * The config keys a model or seed accepts, each with its type. One table serves every place config
 * can be written — project.yml folders, YAML properties, `config()` in a model — so a key means the
 * same thing everywhere and is checked the same way.
 */

import { parseByteSize } from '../util/byte-size.js';

export type CheckResult = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly expected: string };
type Check = (value: unknown) => CheckResult;

const ok = (value: unknown): CheckResult => ({ ok: true, value });
const fail = (expected: string): CheckResult => ({ ok: false, expected });

const string: Check = (v) => (typeof v === 'string' ? ok(v) : fail('a string'));
const identifier: Check = (v) =>
  typeof v === 'string' && /^[A-Za-z_][A-Za-z0-9_$]*$/.test(v) ? ok(v) : fail('an identifier (letters, digits, _)');
const boolean: Check = (v) => (typeof v === 'boolean' ? ok(v) : fail('true or false'));
const nullableBoolean: Check = (v) => (v === null || typeof v === 'boolean' ? ok(v) : fail('true, false or null'));
const map: Check = (v) =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? ok(v) : fail('a mapping');
const positiveInteger: Check = (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 ? ok(v) : fail('a non-negative integer');
const oneOf =
  (...values: string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? ok(v) : fail(`one of ${values.map((x) => `'${x}'`).join(', ')}`);
/** A string or a list of strings, normalized to a list. */
const stringList: Check = (v) => {
  if (typeof v === 'string') return ok([v]);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return ok([...v]);
  return fail('a string or a list of strings');
};
const stringMap: Check = (v) => {
  const m = map(v);
  if (!m.ok) return m;
  for (const x of Object.values(v as object)) if (typeof x !== 'string') return fail('a mapping of strings');
  return ok(v);
};
const checkCols: Check = (v) => (v === 'all' ? ok(v) : stringList(v));
/** A duration in seconds, or with a unit (`90s`, `30m`, `1h`, `2d`), normalized to seconds. */
const duration: Check = (v) => {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return ok(v);
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$/.exec(v) : null;
  if (!m) return fail('a duration such as 0, 90s, 30m, 1h or 2d');
  return ok(Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd']);
};
/** Bytes, as a number or with a unit (`64MB`), normalized to a number. */
const byteSize: Check = (v) => {
  const bytes = parseByteSize(v);
  return bytes === undefined ? fail('a size in bytes, such as 64MB or 1GB') : ok(bytes);
};

export const MATERIALIZATIONS = ['view', 'table', 'ephemeral', 'incremental', 'scd2'] as const;

export const MODEL_CONFIG_KEYS: Readonly<Record<string, Check>> = {
  materialized: oneOf(...MATERIALIZATIONS),
  schema: identifier,
  alias: identifier,
  tags: stringList,
  enabled: boolean,
  meta: map,
  docs: map,
  pre_hook: stringList,
  post_hook: stringList,
  full_refresh: nullableBoolean,
  external: boolean,
  location: string,
  partition_by: stringList,
  unique_key: stringList,
  incremental_strategy: oneOf('append', 'merge', 'delete+insert', 'microbatch'),
  watermark: string,
  on_schema_change: oneOf('ignore', 'fail', 'append_new_columns', 'sync_all_columns'),
  event_time: string,
  batch_size: oneOf('hour', 'day', 'month', 'year'),
  begin: string,
  lookback: positiveInteger,
  strategy: oneOf('check', 'timestamp'),
  check_cols: checkCols,
  updated_at: string,
  valid_from_column: string,
  granularity: oneOf('day', 'timestamp'),
  surrogate_key: identifier,
  hard_deletes: oneOf('ignore', 'invalidate', 'new_record'),
  incremental_sources: oneOf('all', 'new'),
  file_max_bytes: byteSize,
  cluster_by: stringList,
  retain_superseded: duration,
};

/** One character that separates a CSV's fields (dbt's seed `delimiter`). */
const delimiter: Check = (v) => (typeof v === 'string' && v.length === 1 ? ok(v) : fail('one character, such as \',\' or \'|\''));

export const SEED_CONFIG_KEYS: Readonly<Record<string, Check>> = {
  schema: identifier,
  alias: identifier,
  tags: stringList,
  enabled: boolean,
  column_types: stringMap,
  pre_hook: stringList,
  post_hook: stringList,
  delimiter,
  // DuckDB keeps a column's case quoted or not, so quoting changes nothing: accepted for dbt projects.
  quote_columns: boolean,
};

/** dbt spells hooks with a dash in YAML; both spellings mean the same key. */
const ALIASES: Readonly<Record<string, string>> = { 'pre-hook': 'pre_hook', 'post-hook': 'post_hook' };

export function canonicalConfigKey(key: string): string {
  return ALIASES[key] ?? key;
}

/** Keys whose values accumulate across levels (folder, YAML, config()) instead of replacing. */
export const ADDITIVE_KEYS: ReadonlySet<string> = new Set(['tags', 'pre_hook', 'post_hook']);
