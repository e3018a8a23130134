import type { Materialization } from '../manifest/types.js';
import type { MaterializationStrategy } from './materialization.js';
import { tableMaterialization } from './table.js';
import { viewMaterialization } from './view.js';
import { incrementalMaterialization } from './incremental.js';
import { externalTableMaterialization } from './external-table.js';
import { scd2Materialization } from './scd2.js';
import { traitsOf } from './traits.js';

/**
 * The strategy for a model's `materialized`, or why there is none. Ephemeral models are never
 * built (they are inlined).
 */
export function materializationFor(kind: Materialization, external = false): MaterializationStrategy | { unavailable: string } {
  if (external && !traitsOf(kind).storable) {
    return { unavailable: `external: true is for table, incremental and scd2 models; an external ${kind} model is not available in this version of smelter` };
  }
  switch (kind) {
    case 'view':
      return viewMaterialization;
    case 'table':
      return external ? externalTableMaterialization : tableMaterialization;
    case 'ephemeral':
      return { unavailable: 'ephemeral models are inlined where they are referenced, not built' };
    case 'incremental':
      return incrementalMaterialization;
    case 'scd2':
      return scd2Materialization;
    default: {
      const never: never = kind;
      return { unavailable: `unknown materialization ${String(never)}` };
    }
  }
}

export type {
  MaterializationStrategy,
  MaterializationInput,
  PlannedStatement,
  RelationKind,
  BuildContext,
  BuildOutcome,
  CommittedLocalFile,
} from './materialization.js';
