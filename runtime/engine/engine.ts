/**
 * The database seen by the rest of smelter: SQL in, rows and counts out. Only the DuckDB
 * implementation (duckdb-engine.ts) imports @duckdb/node-api.
 */

export type Row = Readonly<Record<string, unknown>>;

export interface StatementResult {
  /** Rows inserted/updated/deleted, or the row count a CREATE TABLE AS reports. */
  readonly rowsAffected: number;
}

export interface ResultTable {
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string }>;
  readonly rows: ReadonlyArray<readonly unknown[]>;
  readonly rowsAffected: number;
}

/** One connection: statements on it run one at a time, in order. */
export interface EngineConnection {
  run(sql: string): Promise<StatementResult>;
  /** Rows as JSON-safe values (BIGINT as string). */
  query(sql: string): Promise<Row[]>;
  /**
   * A statement's result for templates (dbt's `run_query`): column names and DuckDB types, rows as
   * lists (integers that fit a double and decimals as numbers), and the rows a DML statement changed.
   */
  queryTable(sql: string): Promise<ResultTable>;
  /** How many statements DuckDB's parser finds in `sql` (1 when it cannot parse it: running it reports why). */
  countStatements(sql: string): Promise<number>;
  /** Cancel the statement running on this connection, if any. */
  interrupt(): void;
  close(): void;
}

export interface Engine {
  connect(): Promise<EngineConnection>;
  close(): void;
}
