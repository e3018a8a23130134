import { InterruptedError } from '../errors.js';
import type { EngineConnection } from '../engine/engine.js';

/**
 * BEGIN; work; COMMIT — or ROLLBACK on any failure. DuckDB would otherwise commit the statements
 * before a binder error, and silently roll back after a runtime error.
 */
export async function inTransaction<T>(connection: EngineConnection, signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  await connection.run('BEGIN TRANSACTION');
  try {
    const result = await work();
    if (signal.aborted) throw new InterruptedError();
    await connection.run('COMMIT');
    return result;
  } catch (error) {
    await connection.run('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
