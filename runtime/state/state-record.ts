/**
 * The state of one incremental (later also scd2 and external) model, as SPEC §5 names it. One
 * record per model, keyed by `table_name` (`schema.name`); pure data.
 */
export interface StateRecord {
  readonly table_name: string;
  /** `max_<column>` when the model has a watermark. */
  readonly watermark_type: string | null;
  /** DuckDB type of the watermark column: the value is compared in this type, never as text. */
  readonly watermark_data_type: string | null;
  /** The watermark as text. */
  readonly last_processed_value: string | null;
  /** When the run committed (ISO 8601). */
  readonly last_processed_timestamp: string;
  /** Rows the last run wrote. */
  readonly rows_processed: number;
  /** Rows in the model after the last run. */
  readonly rows_total: number;
  /** Incremented by every commit; a writer must name the version it read (compare-and-set). */
  readonly version: number;
  /** invocation_id of the run that committed. */
  readonly run_id: string;
  /** External models: the key, in storage, of the committed file-set manifest. */
  readonly manifest_pointer: string | null;
  /** Microbatch models: the event-time ranges [start, end) whose batches are committed. */
  readonly batches: ReadonlyArray<readonly [string, string]> | null;
  /**
   * Absent on a committed record. `reset`: written by `smelter state reset`: the model rebuilds from
   * scratch on its next run, and its version continues (a run that read the record before the reset
   * cannot commit). `legacy`: a watermark record a pipeline before smelter left (a DynamoDB item with
   * `watermark_type` and `last_processed_value` but no version), which `smelter state adopt` takes
   * over. Neither is committed state: `is_incremental()` is false, and neither names files.
   */
  readonly origin?: 'reset' | 'legacy';
}

/** The fields every backend stores besides the key (`table_name`) and the `origin` marker. */
export const RECORD_FIELDS = [
  'watermark_type',
  'watermark_data_type',
  'last_processed_value',
  'last_processed_timestamp',
  'rows_processed',
  'rows_total',
  'version',
  'run_id',
  'manifest_pointer',
  'batches',
] as const satisfies ReadonlyArray<keyof StateRecord>;

/** Whether the record is a model's committed state (not a reset or a legacy record). */
export function isCommitted(record: StateRecord | undefined): record is StateRecord {
  return record !== undefined && record.origin === undefined;
}

/** The record `smelter state reset` writes in place of `previous` (absent: the model had none). */
export function resetRecord(tableName: string, previous: StateRecord | undefined, runId: string, now: Date): StateRecord {
  return {
    table_name: tableName,
    watermark_type: null,
    watermark_data_type: null,
    last_processed_value: null,
    last_processed_timestamp: now.toISOString(),
    rows_processed: 0,
    rows_total: 0,
    // A legacy record has no version of its own.
    version: previous?.origin === 'legacy' ? 1 : (previous?.version ?? 0) + 1,
    run_id: runId,
    manifest_pointer: null,
    batches: null,
    origin: 'reset',
  };
}
