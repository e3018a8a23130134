/**
 * The database seen by the rest of smelter: SQL in, rows and counts out. Only the DuckDB
 * implementation (duckdb-engine.ts) imports @duckdb/node-api.
 */

export type Row = Readonly<Record<string, unknown>>;

export interface StatementResult {
  /** Rows inserted/updated/deleted, or the row count a CREATE TABLE AS reports. */
  readonly rowsAffected: number;
}

/** One connection: statements on it run one at a time, in order. */
export interface EngineConnection {
  run(sql: string): Promise<StatementResult>;
  /** Rows as JSON-safe values (BIGINT as string). */
  query(sql: string): Promise<Row[]>;
  /** Cancel the statement running on this connection, if any. */
  interrupt(): void;
  close(): void;
}

export interface Engine {
  connect(): Promise<EngineConnection>;
  close(): void;
}
