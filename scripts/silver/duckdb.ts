/** The generator's DuckDB: one in-memory instance per run, and SQL literal helpers. */
import { createRequire } from 'node:module';
import type { DuckDBConnection, DuckDBInstance as DuckDBInstanceType } from '@duckdb/node-api';

// CommonJS package: required rather than imported so Node skips scanning it for named exports
// (as runtime/engine/duckdb-engine.ts does).
const { DuckDBInstance } = createRequire(import.meta.url)('@duckdb/node-api') as typeof import('@duckdb/node-api');

export interface Db {
  run(sql: string): Promise<void>;
  rows<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): void;
}

export async function openDb(): Promise<Db> {
  const instance: DuckDBInstanceType = await DuckDBInstance.create(':memory:');
  const connection: DuckDBConnection = await instance.connect();
  return {
    run: async (sql) => {
      await connection.run(sql);
    },
    rows: async <T>(sql: string) => (await (await connection.run(sql)).getRowObjectsJson()) as T[],
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** A SQL string literal. */
export const str = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** A SQL string literal or NULL. */
export const strOrNull = (value: string | null): string => (value === null ? 'NULL' : str(value));

/** A VARCHAR[] literal. */
export const strList = (values: readonly string[]): string => `[${values.map(str).join(', ')}]::VARCHAR[]`;

/** read_parquet over an explicit file list, so no character of a path is read as a glob. */
export const readParquet = (files: readonly string[]): string => `read_parquet([${files.map(str).join(', ')}])`;
