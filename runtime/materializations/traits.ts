import type { Materialization, ModelNode } from '../manifest/types.js';

/**
 * What each materialization is, declared once so that the planner, the executor and the commands
 * ask a question ("does it keep history?") instead of testing names. Pure data: parse and plan may
 * import it without loading any materialization's program.
 */
export interface MaterializationTraits {
  /** Built by a run (ephemeral models are inlined where they are referenced instead). */
  readonly built: boolean;
  /** Has incremental runs: `is_incremental()` can be true, and it keeps a state record. */
  readonly incremental: boolean;
  /**
   * Keeps history its source may no longer hold: `--full-refresh` and `state reset` leave it alone
   * unless the model sets `full_refresh: true` or `--force` is given.
   */
  readonly keepsHistory: boolean;
  /** `build` may audit it: its new contents are tested before they are published. */
  readonly auditable: boolean;
  /** May be stored as Parquet files (`external: true`). */
  readonly storable: boolean;
}

const TRAITS: Readonly<Record<Materialization, MaterializationTraits>> = {
  view: { built: true, incremental: false, keepsHistory: false, auditable: false, storable: false },
  ephemeral: { built: false, incremental: false, keepsHistory: false, auditable: false, storable: false },
  table: { built: true, incremental: false, keepsHistory: false, auditable: true, storable: true },
  incremental: { built: true, incremental: true, keepsHistory: false, auditable: true, storable: true },
  scd2: { built: true, incremental: true, keepsHistory: true, auditable: true, storable: true },
};

export function traitsOf(materialized: Materialization): MaterializationTraits {
  return TRAITS[materialized];
}

/** Models with a state record (SPEC §5): incremental and scd2 ones, and every external one. */
export function isStateful(node: ModelNode): boolean {
  return traitsOf(node.config.materialized).incremental || node.config.external;
}

/** Built batch by batch, each batch committing on its own (microbatch). */
export function isBatched(node: ModelNode): boolean {
  return node.config.materialized === 'incremental' && node.config.incremental_strategy === 'microbatch';
}

/** `schema.name`: the key of a model's state record (SPEC §5). */
export function stateKey(node: ModelNode): string {
  return `${node.relation.schema}.${node.name}`;
}
