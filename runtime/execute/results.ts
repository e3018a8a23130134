import type { SmelterError } from '../errors.js';

/** The outcome of one node in a run. Pure data (the error is flattened for artifacts). */
export interface NodeResult {
  readonly unique_id: string;
  readonly name: string;
  readonly resource_type: 'model' | 'seed' | 'test' | 'unit_test';
  /** `table`, `view`, `seed`, ... as printed. */
  readonly kind: string;
  /** `schema.alias`. */
  readonly relation: string;
  /** Models and seeds: success or error; data tests: pass, warn or fail (error when the query fails). */
  readonly status: 'success' | 'error' | 'skipped' | 'pass' | 'warn' | 'fail';
  readonly rows?: number;
  /** Data tests: the failing rows counted. */
  readonly failures?: number;
  readonly seconds: number;
  readonly message?: string;
  readonly error?: SmelterError;
  readonly timing: ReadonlyArray<{ readonly name: 'compile' | 'execute'; readonly started_at: string; readonly completed_at: string }>;
  /** Statements executed, in order (written to target/run/). */
  readonly statements?: readonly string[];
}

export interface RunResult {
  readonly invocation_id: string;
  readonly started_at: string;
  readonly elapsed_seconds: number;
  readonly results: readonly NodeResult[];
  readonly interrupted: boolean;
  /** Set when the run as a whole failed (e.g. on-run-start). */
  readonly error?: SmelterError;
}

export type RunEvent =
  | { readonly type: 'run_start'; readonly total: number; readonly threads: number }
  | { readonly type: 'node_start'; readonly unique_id: string; readonly running: readonly string[] }
  | { readonly type: 'node_finish'; readonly result: NodeResult; readonly index: number; readonly total: number; readonly running: readonly string[] }
  | { readonly type: 'hook_finish'; readonly hook: string; readonly status: 'success' | 'error'; readonly seconds: number; readonly message?: string }
  | { readonly type: 'run_finish'; readonly result: RunResult };
