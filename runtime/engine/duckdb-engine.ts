import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import type { DuckDBInstance as DuckDBInstanceType, DuckDBConnection } from '@duckdb/node-api';
import { LockedError, ProjectError } from '../errors.js';
import type { Engine, EngineConnection, ResultTable, Row, StatementResult } from './engine.js';

// The package is CommonJS. Loaded through require rather than `import`, Node skips scanning its ~40
// files for named exports: 120 ms → 65 ms of every process that opens a database.
const { DuckDBInstance } = createRequire(import.meta.url)('@duckdb/node-api') as typeof import('@duckdb/node-api');
type DuckDBInstance = DuckDBInstanceType;

/**
 * Open the target's DuckDB database. A file another process holds is a LockedError naming the
 * holder (exit 3), rather than DuckDB's IO error.
 */
export async function openDuckDB(path: string, settings: Readonly<Record<string, string | number | boolean>> = {}): Promise<Engine> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const options = Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, String(v)]));
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path, options);
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    const holder = /Conflicting lock is held in (.*?) \(PID (\d+)\)/.exec(message);
    if (holder) {
      throw new LockedError(`the database ${path} is locked by another process: ${holder[1]} (PID ${holder[2]})`, {
        hint: 'wait for that run to finish, or stop it',
      });
    }
    if (/setting|option|config/i.test(message)) {
      throw new ProjectError(`cannot open the database with the target's settings: ${firstLine(message)}`, { code: 'config' });
    }
    throw new ProjectError(`cannot open the database ${path}: ${firstLine(message)}`);
  }
  await useUtc(instance);
  return new DuckDBEngine(instance);
}

/**
 * Every connection runs with TimeZone = 'UTC', whatever the machine's TZ: DuckDB (with ICU, which
 * this build bundles) otherwise takes the process's zone, and `cast(now() as timestamp)` would give
 * local wall-clock times, which repeat an hour when daylight saving ends, so a later run could
 * stamp rows earlier than an earlier one. The setting is global (new connections inherit it); it
 * cannot be an open option, as ICU registers it only once the database is open.
 */
async function useUtc(instance: DuckDBInstance): Promise<void> {
  const connection = await instance.connect();
  try {
    await connection.run("SET GLOBAL TimeZone = 'UTC'");
  } finally {
    connection.closeSync();
  }
}

class DuckDBEngine implements Engine {
  constructor(private readonly instance: DuckDBInstance) {}

  async connect(): Promise<EngineConnection> {
    return new DuckDBEngineConnection(await this.instance.connect());
  }

  close(): void {
    this.instance.closeSync();
  }
}

class DuckDBEngineConnection implements EngineConnection {
  constructor(private readonly connection: DuckDBConnection) {}

  async run(sql: string): Promise<StatementResult> {
    const result = await this.connection.run(sql);
    let rowsAffected = result.rowsChanged;
    // CREATE TABLE AS reports its rows as a one-row result with a Count column.
    if (rowsAffected === 0 && result.columnCount === 1 && result.columnName(0) === 'Count') {
      const rows = await result.getRows();
      if (rows.length === 1) rowsAffected = Number(rows[0][0]);
    }
    return { rowsAffected };
  }

  async query(sql: string): Promise<Row[]> {
    const result = await this.connection.run(sql);
    return (await result.getRowObjectsJson()) as Row[];
  }

  async queryTable(sql: string): Promise<ResultTable> {
    const result = await this.connection.run(sql);
    const names = result.columnNames();
    const types = result.columnTypes().map((t) => t.toString());
    const rows = (await result.getRowsJson()) as unknown[][];
    const numeric = types.map((t) => /^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|DECIMAL.*|FLOAT|DOUBLE)$/.test(t));
    return {
      columns: names.map((name, i) => ({ name, type: types[i] })),
      rows: rows.map((row) => row.map((v, i) => (numeric[i] && typeof v === 'string' && Number.isFinite(Number(v)) ? Number(v) : v))),
      rowsAffected: result.rowsChanged,
    };
  }

  async countStatements(sql: string): Promise<number> {
    try {
      return (await this.connection.extractStatements(sql)).count;
    } catch {
      return 1;
    }
  }

  interrupt(): void {
    this.connection.interrupt();
  }

  close(): void {
    this.connection.closeSync();
  }
}

export function firstLine(message: string): string {
  return message.split('\n')[0];
}
