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
}
