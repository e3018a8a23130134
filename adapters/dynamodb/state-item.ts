import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { RECORD_FIELDS, StateError, type StateRecord } from '../../runtime/index.js';

/**
 * A state record as a DynamoDB item, and back: every StateRecord field, nulls as NULL attributes so
 * a record reads back exactly; `batches` as the JSON text of its [start, end) pairs. Lease
 * attributes (`lease_*`) share the item and are never record fields (dynamodb-state-store.ts).
 */

export type Item = Record<string, AttributeValue>;

/** The record's attributes besides the key (toItem writes each one). */
export const RECORD_ATTRIBUTES = RECORD_FIELDS;

/** Set on reset records only (state-record.ts); a commit removes it. */
export const ORIGIN_ATTRIBUTE = 'origin';

export function keyOf(tableName: string): Item {
  return { table_name: { S: tableName } };
}

/** The record an item holds; an item that is not one is an error naming it and the table. */
export function toRecord(table: string, item: Item): StateRecord {
  const name = item.table_name?.S;
  const malformed = (attribute: string, expected: string) =>
    new StateError(
      `the DynamoDB item ${name ?? '(without table_name)'} in table ${table} is not a smelter state record: ${attribute} is missing or not ${expected}`,
      { hint: 'was it written by another tool? `smelter state reset --select` replaces it' },
    );
  if (name === undefined) throw malformed('table_name', 'a string');
  if (item.version === undefined && item.run_id === undefined && (item.watermark_type !== undefined || item.last_processed_value !== undefined)) {
    return legacyRecord(name, item);
  }
  const text = (attribute: string): string | null => {
    const value = item[attribute];
    if (value === undefined || value.NULL === true) return null;
    if (value.S !== undefined) return value.S;
    throw malformed(attribute, 'a string or null');
  };
  const requiredText = (attribute: string): string => {
    const value = text(attribute);
    if (value === null) throw malformed(attribute, 'a string');
    return value;
  };
  const number = (attribute: string): number => {
    const value = item[attribute]?.N;
    if (value === undefined || !Number.isFinite(Number(value))) throw malformed(attribute, 'a number');
    return Number(value);
  };
  const batchesText = text('batches');
  let batches: Array<[string, string]> | null = null;
  if (batchesText !== null) {
    try {
      batches = JSON.parse(batchesText) as Array<[string, string]>;
    } catch {
      throw malformed('batches', 'JSON text');
    }
    if (!Array.isArray(batches) || !batches.every((b) => Array.isArray(b) && b.length === 2 && b.every((x) => typeof x === 'string'))) {
      throw malformed('batches', 'a JSON list of [start, end] pairs');
    }
  }
  return {
    table_name: name,
    watermark_type: text('watermark_type'),
    watermark_data_type: text('watermark_data_type'),
    last_processed_value: text('last_processed_value'),
    last_processed_timestamp: requiredText('last_processed_timestamp'),
    rows_processed: number('rows_processed'),
    rows_total: number('rows_total'),
    version: number('version'),
    run_id: requiredText('run_id'),
    manifest_pointer: text('manifest_pointer'),
    batches,
    ...(text('origin') === 'reset' ? { origin: 'reset' as const } : {}),
  };
}

/**
 * The watermark record of a pipeline before smelter (SPEC §5 names its fields: `watermark_type`,
 * `last_processed_value`, `last_processed_timestamp`, `rows_processed`; no version). Read so that a
 * run can refuse it by name and `smelter state adopt` can take its watermark over; values written
 * as numbers are read as their text.
 */
function legacyRecord(name: string, item: Item): StateRecord {
  const text = (attribute: string): string | null => item[attribute]?.S ?? item[attribute]?.N ?? null;
  return {
    table_name: name,
    watermark_type: text('watermark_type'),
    watermark_data_type: text('watermark_data_type'),
    last_processed_value: text('last_processed_value'),
    last_processed_timestamp: text('last_processed_timestamp') ?? '',
    rows_processed: Number(text('rows_processed') ?? 0) || 0,
    rows_total: Number(text('rows_total') ?? text('rows_processed') ?? 0) || 0,
    version: 0,
    run_id: '',
    manifest_pointer: null,
    batches: null,
    origin: 'legacy',
  };
}

export function toItem(r: StateRecord): Item {
  const text = (x: string | null): AttributeValue => (x === null ? { NULL: true } : { S: x });
  const number = (field: string, x: number): AttributeValue => {
    if (!Number.isFinite(x)) throw new StateError(`the state record of ${r.table_name} has ${field} = ${x}, not a number`);
    return { N: String(x) };
  };
  return {
    table_name: { S: r.table_name },
    watermark_type: text(r.watermark_type),
    watermark_data_type: text(r.watermark_data_type),
    last_processed_value: text(r.last_processed_value),
    last_processed_timestamp: { S: r.last_processed_timestamp },
    rows_processed: number('rows_processed', r.rows_processed),
    rows_total: number('rows_total', r.rows_total),
    version: number('version', r.version),
    run_id: { S: r.run_id },
    manifest_pointer: text(r.manifest_pointer),
    batches: text(r.batches === null ? null : JSON.stringify(r.batches)),
    ...(r.origin ? { [ORIGIN_ATTRIBUTE]: { S: r.origin } } : {}),
  };
}

/** An item's size as DynamoDB counts it (attribute names plus values, UTF-8), rounded up for numbers. */
export function itemBytes(item: Item): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    bytes += Buffer.byteLength(name, 'utf8');
    if (value.S !== undefined) bytes += Buffer.byteLength(value.S, 'utf8');
    else if (value.N !== undefined) bytes += value.N.length + 1;
    else bytes += 1;
  }
  return bytes;
}

export function sameRecord(a: StateRecord, b: StateRecord): boolean {
  const normal = (r: StateRecord) =>
    JSON.stringify([
      r.table_name,
      r.watermark_type,
      r.watermark_data_type,
      r.last_processed_value,
      r.last_processed_timestamp,
      r.rows_processed,
      r.rows_total,
      r.version,
      r.run_id,
      r.manifest_pointer,
      r.batches,
      r.origin ?? null,
    ]);
  return normal(a) === normal(b);
}
