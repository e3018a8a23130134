import type { ModelNode } from '../manifest/types.js';
import type { BuildOutcome } from '../materializations/index.js';
import { stateKey } from '../materializations/traits.js';
import type { StateRecord } from '../state/state-record.js';

/** The record a successful build commits (SPEC §5): the next version of `previous`. */
export function nextState(node: ModelNode, outcome: BuildOutcome, previous: StateRecord | undefined, runId: string, manifestPointer: string | null): StateRecord {
  return {
    table_name: stateKey(node),
    watermark_type: node.config.watermark ? `max_${node.config.watermark}` : null,
    watermark_data_type: outcome.watermark?.type ?? null,
    last_processed_value: outcome.watermark?.value ?? null,
    last_processed_timestamp: new Date().toISOString(),
    rows_processed: outcome.rows,
    rows_total: outcome.rowsTotal,
    version: (previous?.version ?? 0) + 1,
    run_id: runId,
    manifest_pointer: manifestPointer,
    batches: previous?.batches ?? null,
  };
}
