import { DuckDBInstance } from '@duckdb/node-api';

/** Rows of `sql` on a DuckDB file (read-only) or `:memory:`, closed again, as JSON-safe values. */
export async function queryDuckDB(dbPath: string, sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(dbPath, dbPath === ':memory:' ? {} : { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    try {
      return (await (await connection.run(sql)).getRowObjectsJson()) as Record<string, unknown>[];
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}
