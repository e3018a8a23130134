import type { EngineConnection } from '../engine/engine.js';
import type { StateRecord } from './state-record.js';

/**
 * Where model state lives. Responsible for reading records and for publishing a new record only if
 * nobody else published since it was read; not for deciding what the record says.
 */
export interface StateStore {
  readonly backend: 'local' | 'dynamodb';
  /** The records of these models (missing: no committed state). */
  read(tableNames: readonly string[]): Promise<ReadonlyMap<string, StateRecord>>;
  /** Every record, for `state show`. */
  readAll(): Promise<StateRecord[]>;
  /**
   * Publish `next` if the stored version is still `expectedVersion` (undefined: no record yet);
   * otherwise throw a StateError. `transaction` is the connection whose open transaction holds the
   * model's data: a backend in the same database writes in it, so data and state commit together.
   */
  commit(transaction: EngineConnection, next: StateRecord, expectedVersion: number | undefined): Promise<void>;
  /**
   * Hold the model for this run: while held, another run of the same model fails fast (retryable)
   * instead of racing it; a crashed holder's lease expires. Released when the model is done.
   */
  lease(tableName: string, runId: string): Promise<Lease>;
  /** Forget these models' state: their next run rebuilds them. Returns the names that had state. */
  reset(tableNames: readonly string[]): Promise<string[]>;
}

export interface Lease {
  release(): Promise<void>;
}
