import { StateError } from '../errors.js';
import type { Engine, EngineConnection } from '../engine/engine.js';
import { quoteLiteral } from '../render/relation.js';
import type { StateRecord } from './state-record.js';
import type { Lease, StateStore } from './state-store.js';

/** The state table in the target's own database. */
export const LOCAL_STATE_TABLE = '"_smelter"."state"';

const COLUMNS = `
  table_name VARCHAR PRIMARY KEY,
  watermark_type VARCHAR,
  watermark_data_type VARCHAR,
  last_processed_value VARCHAR,
  last_processed_timestamp VARCHAR NOT NULL,
  rows_processed BIGINT NOT NULL,
  rows_total BIGINT NOT NULL,
  version BIGINT NOT NULL,
  run_id VARCHAR NOT NULL,
  manifest_pointer VARCHAR,
  batches VARCHAR`;

/**
 * The `local` backend: a table in the target's DuckDB database, written inside the model's own
 * transaction, so a model's data and its state commit together or not at all.
 */
export class LocalStateStore implements StateStore {
  readonly backend = 'local' as const;

  private constructor(private readonly connection: EngineConnection) {}

  static async open(engine: Engine): Promise<LocalStateStore> {
    const connection = await engine.connect();
    await connection.run('CREATE SCHEMA IF NOT EXISTS "_smelter"');
    await connection.run(`CREATE TABLE IF NOT EXISTS ${LOCAL_STATE_TABLE} (${COLUMNS})`);
    // Databases whose state table predates external models.
    await connection.run(`ALTER TABLE ${LOCAL_STATE_TABLE} ADD COLUMN IF NOT EXISTS manifest_pointer VARCHAR`);
    await connection.run(`ALTER TABLE ${LOCAL_STATE_TABLE} ADD COLUMN IF NOT EXISTS batches VARCHAR`);
    return new LocalStateStore(connection);
  }

  async read(tableNames: readonly string[]): Promise<ReadonlyMap<string, StateRecord>> {
    if (tableNames.length === 0) return new Map();
    const rows = await this.connection.query(
      `SELECT * FROM ${LOCAL_STATE_TABLE} WHERE table_name IN (${tableNames.map(quoteLiteral).join(', ')})`,
    );
    return new Map(rows.map((r) => [String(r.table_name), toRecord(r)]));
  }

  async readAll(): Promise<StateRecord[]> {
    return (await this.connection.query(`SELECT * FROM ${LOCAL_STATE_TABLE} ORDER BY table_name`)).map(toRecord);
  }

  /** `_lease` is the database file lock (see `lease`): held by this process for as long as it runs, so always still valid. */
  async commit(transaction: EngineConnection, next: StateRecord, expectedVersion: number | undefined, _lease: Lease): Promise<void> {
    const v = (x: string | number | null) => (x === null ? 'NULL' : typeof x === 'number' ? String(x) : quoteLiteral(x));
    if (expectedVersion === undefined) {
      // A record appearing since we read means another run committed first.
      const existing = await transaction.query(`SELECT version FROM ${LOCAL_STATE_TABLE} WHERE table_name = ${v(next.table_name)}`);
      if (existing.length > 0) throw staleWriter(next.table_name);
      await transaction.run(
        `INSERT INTO ${LOCAL_STATE_TABLE} VALUES (${[
          next.table_name,
          next.watermark_type,
          next.watermark_data_type,
          next.last_processed_value,
          next.last_processed_timestamp,
          next.rows_processed,
          next.rows_total,
          next.version,
          next.run_id,
          next.manifest_pointer,
          next.batches === null ? null : JSON.stringify(next.batches),
        ]
          .map(v)
          .join(', ')})`,
      );
      return;
    }
    const result = await transaction.run(
      `UPDATE ${LOCAL_STATE_TABLE} SET watermark_type = ${v(next.watermark_type)}, watermark_data_type = ${v(next.watermark_data_type)}, ` +
        `last_processed_value = ${v(next.last_processed_value)}, last_processed_timestamp = ${v(next.last_processed_timestamp)}, ` +
        `rows_processed = ${next.rows_processed}, rows_total = ${next.rows_total}, version = ${next.version}, run_id = ${v(next.run_id)}, ` +
        `manifest_pointer = ${v(next.manifest_pointer)}, batches = ${v(next.batches === null ? null : JSON.stringify(next.batches))} ` +
        `WHERE table_name = ${v(next.table_name)} AND version = ${expectedVersion}`,
    );
    if (result.rowsAffected !== 1) throw staleWriter(next.table_name);
  }

  /**
   * Locally the lease is the database itself: DuckDB lets one process open the file, so a second
   * run fails at once (exit 3, naming the holder) and a crashed holder's lock dies with it. Nothing
   * to renew, nothing another run can take over while this one runs.
   */
  async lease(key: string, runId: string): Promise<Lease> {
    return { key, runId, release: async () => {} };
  }

  async reset(tableNames: readonly string[]): Promise<string[]> {
    if (tableNames.length === 0) return [];
    const list = tableNames.map(quoteLiteral).join(', ');
    const had = await this.connection.query(`SELECT table_name FROM ${LOCAL_STATE_TABLE} WHERE table_name IN (${list}) ORDER BY table_name`);
    await this.connection.run(`DELETE FROM ${LOCAL_STATE_TABLE} WHERE table_name IN (${list})`);
    return had.map((r) => String(r.table_name));
  }

  close(): void {
    this.connection.close();
  }
}

function staleWriter(tableName: string): StateError {
  return new StateError(`the state of ${tableName} changed while this run built it (another run committed first); nothing was written`, {
    hint: 'run again',
  });
}

function toRecord(r: Readonly<Record<string, unknown>>): StateRecord {
  const text = (x: unknown) => (x === null || x === undefined ? null : String(x));
  return {
    table_name: String(r.table_name),
    watermark_type: text(r.watermark_type),
    watermark_data_type: text(r.watermark_data_type),
    last_processed_value: text(r.last_processed_value),
    last_processed_timestamp: String(r.last_processed_timestamp),
    rows_processed: Number(r.rows_processed),
    rows_total: Number(r.rows_total),
    version: Number(r.version),
    run_id: String(r.run_id),
    manifest_pointer: text(r.manifest_pointer),
    batches: r.batches === null || r.batches === undefined ? null : (JSON.parse(String(r.batches)) as Array<[string, string]>),
  };
}
