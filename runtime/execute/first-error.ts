import type { EngineConnection } from '../engine/engine.js';

/** DuckDB's refusal of every statement after a failed one in a transaction, until ROLLBACK. */
const ABORTED = /Current transaction is aborted/;

/**
 * A connection whose errors name the cause, not its consequences. After a statement fails inside a
 * transaction, DuckDB refuses every later one with "Current transaction is aborted" until ROLLBACK;
 * a statement that runs anyway (a clean-up DROP in a `finally`, a query in an error path) would
 * throw that refusal in place of the failure. Here such a statement throws the failure again, so
 * whatever runs after it, the first error is the one reported. A statement that succeeds (the
 * ROLLBACK) forgets it.
 */
export function reportingFirstError(connection: EngineConnection): EngineConnection {
  let failure: unknown;
  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      const result = await work();
      failure = undefined;
      return result;
    } catch (error) {
      if (failure !== undefined && ABORTED.test(error instanceof Error ? error.message : String(error))) throw failure;
      failure = error;
      throw error;
    }
  };
  return {
    run: (sql) => guard(() => connection.run(sql)),
    query: (sql) => guard(() => connection.query(sql)),
    queryTable: (sql) => guard(() => connection.queryTable(sql)),
    // Parsing runs nothing: it neither fails the transaction nor ends its failure.
    countStatements: (sql) => connection.countStatements(sql),
    interrupt: () => connection.interrupt(),
    close: () => connection.close(),
  };
}
