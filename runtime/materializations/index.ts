import type { Materialization } from '../manifest/types.js';
import type { MaterializationStrategy } from './materialization.js';
import { tableMaterialization } from './table.js';
import { viewMaterialization } from './view.js';

/**
 * The strategy for a model's `materialized`, or why there is none. Ephemeral models are never
 * built (they are inlined); incremental and scd2 arrive with the state store.
 */
export function materializationFor(kind: Materialization): MaterializationStrategy | { unavailable: string } {
  switch (kind) {
    case 'view':
      return viewMaterialization;
    case 'table':
      return tableMaterialization;
    case 'ephemeral':
      return { unavailable: 'ephemeral models are inlined where they are referenced, not built' };
    case 'incremental':
    case 'scd2':
      return { unavailable: `materialized: ${kind} needs the state store, which this version of smelter does not have yet` };
    default: {
      const never: never = kind;
      return { unavailable: `unknown materialization ${String(never)}` };
    }
  }
}

export type { MaterializationStrategy, MaterializationInput, PlannedStatement, RelationKind } from './materialization.js';
