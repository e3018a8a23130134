import { ProjectError, type SourceLocation } from '../errors.js';
import type { ConfigLayer } from './resolve-config.js';

/** One `{% snapshot name %} ... {% endsnapshot %}` block of a file in snapshot-paths. */
export interface SnapshotBlock {
  readonly name: string;
  readonly line: number;
  readonly column: number;
  /** The block's body, preceded by blank lines so its line numbers are the file's. */
  readonly text: string;
}

const START = /\{%-?\s*snapshot\s+([A-Za-z_][A-Za-z0-9_]*)\s*-?%\}/g;
const END = /\{%-?\s*endsnapshot\s*-?%\}/g;

/** The snapshot blocks of a file; a block without its end, or one inside another, is an error at its line. */
export function readSnapshotBlocks(path: string, text: string): SnapshotBlock[] {
  const blocks: SnapshotBlock[] = [];
  const at = (offset: number) => {
    const before = text.slice(0, offset);
    return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') };
  };
  let from = 0;
  for (;;) {
    START.lastIndex = from;
    const start = START.exec(text);
    if (start === null) break;
    END.lastIndex = start.index + start[0].length;
    const end = END.exec(text);
    const where = at(start.index);
    START.lastIndex = start.index + start[0].length;
    const nested = START.exec(text);
    if (end === null || (nested !== null && nested.index < end.index)) {
      throw new ProjectError(`{% snapshot ${start[1]} %} has no {% endsnapshot %}${end !== null ? ' before the next snapshot block' : ''}`, {
        code: 'template',
        location: { file: path, ...where },
      });
    }
    const bodyStart = start.index + start[0].length;
    const padding = '\n'.repeat(at(bodyStart).line - 1) + ' '.repeat(at(bodyStart).column - 1);
    blocks.push({ name: start[1], ...where, text: padding + text.slice(bodyStart, end.index) });
    from = end.index + end[0].length;
  }
  return blocks;
}

/**
 * A snapshot is an scd2 model with dbt's column names (runtime/materializations/scd2.ts): versions
 * start at the instant a change takes effect (updated_at, or the run's start for check), and its
 * config() keys are dbt's, translated here.
 */
export const SNAPSHOT_DEFAULTS: ConfigLayer = {
  values: { materialized: 'scd2', granularity: 'timestamp' },
  locate: () => ({ file: '' }),
  checked: true,
};

/** dbt's snapshot config in smelter's words; `target_schema` is returned apart (it is the schema as written, not a custom one). */
export function translateSnapshotConfig(layer: ConfigLayer, nodeId: string): { layers: ConfigLayer[]; targetSchema?: string } {
  const values: Record<string, unknown> = {};
  const checked: Record<string, unknown> = {};
  let targetSchema: string | undefined;
  const fail = (key: string, message: string) => new ProjectError(message, { code: 'config', location: layer.locate(key), node: nodeId });
  for (const [key, value] of Object.entries(layer.values)) {
    switch (key) {
      case 'target_schema':
        if (typeof value !== 'string' || value === '') throw fail(key, `target_schema must be a schema name, got ${JSON.stringify(value)}`);
        targetSchema = value;
        break;
      case 'target_database':
        // One DuckDB database per target: the snapshot is built in it, as every node is.
        break;
      case 'invalidate_hard_deletes':
        if (value === true) values.hard_deletes = 'invalidate';
        else if (value !== false) throw fail(key, `invalidate_hard_deletes must be true or false, got ${JSON.stringify(value)}`);
        break;
      case 'dbt_valid_to_current':
        if (typeof value !== 'string') throw fail(key, `dbt_valid_to_current must be SQL text such as "to_date('9999-12-31')", got ${JSON.stringify(value)}`);
        checked.dbt_valid_to_current = value;
        break;
      case 'snapshot_meta_column_names': {
        const allowed = ['dbt_scd_id', 'dbt_updated_at', 'dbt_valid_from', 'dbt_valid_to', 'dbt_is_deleted'];
        if (value === null || typeof value !== 'object' || Array.isArray(value)) throw fail(key, 'snapshot_meta_column_names must map dbt column names to yours');
        for (const [k, v] of Object.entries(value)) {
          if (!allowed.includes(k)) throw fail(key, `snapshot_meta_column_names: unknown column '${k}' (one of ${allowed.join(', ')})`);
          if (typeof v !== 'string' || v === '') throw fail(key, `snapshot_meta_column_names.${k} must be a column name`);
        }
        checked.snapshot_meta_column_names = value;
        break;
      }
      default:
        values[key] = value;
    }
  }
  const locate = (key: string): SourceLocation => layer.locate(key);
  // The keys smelter's own config does not have are checked here, so they go in a layer of their own.
  const layers: ConfigLayer[] = [{ values, locate, checked: layer.checked }];
  if (Object.keys(checked).length > 0) layers.push({ values: checked, locate, checked: true });
  return { layers, targetSchema };
}
