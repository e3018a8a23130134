import { StateError } from '../errors.js';
import type { Engine, EngineConnection } from '../engine/engine.js';
import { quoteLiteral } from '../render/relation.js';
import { RECORD_FIELDS, resetRecord, type StateRecord } from './state-record.js';
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
  batches VARCHAR,
  origin VARCHAR`;

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
    // Databases whose state table predates reset records.
    await connection.run(`ALTER TABLE ${LOCAL_STATE_TABLE} ADD COLUMN IF NOT EXISTS origin VARCHAR`);
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
    if (expectedVersion === undefined) {
      // A record appearing since we read means another run committed first.
      const existing = await transaction.query(`SELECT version FROM ${LOCAL_STATE_TABLE} WHERE table_name = ${sqlValue(next.table_name)}`);
      if (existing.length > 0) throw staleWriter(next.table_name);
      await transaction.run(`INSERT INTO ${LOCAL_STATE_TABLE} (${FIELDS.join(', ')}) VALUES (${values(next).join(', ')})`);
      return;
    }
    const assignments = FIELDS.slice(1).map((field, i) => `${field} = ${values(next)[i + 1]}`);
    const result = await transaction.run(
      `UPDATE ${LOCAL_STATE_TABLE} SET ${assignments.join(', ')} WHERE table_name = ${sqlValue(next.table_name)} AND version = ${expectedVersion}`,
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

  /** Writes a reset record for each model (SPEC §5), in one transaction; returns those that had state. */
  async reset(tableNames: readonly string[], runId: string): Promise<string[]> {
    if (tableNames.length === 0) return [];
    const names = [...new Set(tableNames)];
    const now = new Date();
    await this.connection.run('BEGIN TRANSACTION');
    try {
      const previous = await this.read(names);
      for (const name of names) {
        const before = previous.get(name);
        const next = resetRecord(name, before, runId, now);
        await this.connection.run(`DELETE FROM ${LOCAL_STATE_TABLE} WHERE table_name = ${sqlValue(name)}`);
        await this.connection.run(`INSERT INTO ${LOCAL_STATE_TABLE} (${FIELDS.join(', ')}) VALUES (${values(next).join(', ')})`);
      }
      await this.connection.run('COMMIT');
      return names.filter((n) => previous.get(n) !== undefined && previous.get(n)!.origin !== 'reset').sort();
    } catch (error) {
      await this.connection.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  close(): void {
    this.connection.close();
  }
}

/** The state table's columns, in the order `values` gives them. */
const FIELDS = ['table_name', ...RECORD_FIELDS, 'origin'] as const;

function sqlValue(x: string | number | null): string {
  return x === null ? 'NULL' : typeof x === 'number' ? String(x) : quoteLiteral(x);
}

/** A record's values as SQL literals, in FIELDS order (`batches` as JSON text). */
function values(r: StateRecord): string[] {
  return FIELDS.map((field) => {
    if (field === 'batches') return sqlValue(r.batches === null ? null : JSON.stringify(r.batches));
    if (field === 'origin') return sqlValue(r.origin ?? null);
    return sqlValue(r[field]);
  });
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
    ...(r.origin === 'reset' ? { origin: 'reset' as const } : {}),
  };
}
