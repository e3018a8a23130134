import type { EngineConnection } from '../engine/engine.js';
import { StateError } from '../errors.js';
import type { StateRecord } from './state-record.js';

/**
 * Where model state lives. Responsible for reading records and for publishing a new record only if
 * nobody else published since it was read; not for deciding what the record says.
 */
export interface StateStore {
  readonly backend: 'local' | 'dynamodb';
  /** The records of these models, reset and legacy records included (missing: no record at all). */
  read(tableNames: readonly string[]): Promise<ReadonlyMap<string, StateRecord>>;
  /** Every record, for `state show`. */
  readAll(): Promise<StateRecord[]>;
  /**
   * Publish `next` if the stored version is still `expectedVersion` (undefined: no record yet) and
   * `lease` (taken with `lease()` on the model, or on one of its microbatch batches) is still this
   * run's; otherwise throw a StateError, and nothing is published. `transaction` is the connection
   * whose open transaction holds the model's data: a backend in the same database writes in it, so
   * data and state commit together. The lease stays held: the caller releases it.
   */
  commit(transaction: EngineConnection, next: StateRecord, expectedVersion: number | undefined, lease: Lease): Promise<void>;
  /**
   * Hold a model (`key` is its `schema.name`), or one microbatch batch of it (`schema.name@<batch
   * start>`), for this run: while held, another run fails fast (a StateError whose message starts
   * "another run holds", retryable) instead of racing it; a crashed holder's lease expires. A backend
   * whose leases expire renews a held lease until it is released, and refuses the commit of a run
   * whose lease another run has taken since (fencing).
   */
  lease(key: string, runId: string): Promise<Lease>;
  /**
   * Replace these models' state with reset records (state-record.ts): their next run rebuilds them,
   * and a run that read the old record cannot commit. Returns the names that had state.
   */
  reset(tableNames: readonly string[], runId: string): Promise<string[]>;
}

/** A lease a run holds; pass it to `commit`. */
export interface Lease {
  /** What is held: `schema.name`, or `schema.name@<batch start>`. */
  readonly key: string;
  /** The run holding it. */
  readonly runId: string;
  /** Stop renewing and give the lease up (never another run's: a lease taken over is left alone). Idempotent. */
  release(): Promise<void>;
}

/** Whether an error is a lease another run holds (retryable: the Lambda adapter's ConcurrentRun, the CLI's exit 3). */
export function isLeaseHeld(error: unknown): boolean {
  return error instanceof StateError && error.message.startsWith('another run holds ');
}

/** Whether an error says this run's lease expired and another run took it before the commit. */
export function isLeaseLost(error: unknown): boolean {
  return error instanceof StateError && / expired and was taken by another run/.test(error.message);
}

/**
 * Whether an error is a compare-and-set a commit lost: another run committed the model since this
 * one read its record (both backends say "changed while this run built it"). Nothing was published.
 */
export function isStaleWrite(error: unknown): boolean {
  return error instanceof StateError && error.message.includes(' changed while this run built it');
}
