import { ExecutionError } from '../errors.js';
import type { ModelNode } from '../manifest/types.js';
import { quoteIdentifier, quoteLiteral } from '../render/relation.js';
import type { BuildContext, BuildOutcome } from './materialization.js';

/**
 * What every incremental build checks and computes on its new rows, whether the model is a
 * database table or Parquet files: the strategy, key checks, the watermark, column changes.
 */

export type Strategy = 'append' | 'merge' | 'delete+insert' | 'microbatch';

export function strategyOf(node: ModelNode): Strategy {
  return node.config.incremental_strategy ?? (node.config.unique_key ? 'merge' : 'append');
}

export async function count(ctx: BuildContext, relation: string): Promise<number> {
  return Number((await ctx.query(`SELECT count(*) AS n FROM ${relation}`))[0].n);
}

/** A NULL key, and (merge) one key twice among the rows to merge, are errors naming the model and the count. */
export async function checkKeys(ctx: BuildContext, rowsOf: string, strategy: Strategy): Promise<void> {
  const keys = ctx.node.config.unique_key;
  if (!keys || keys.length === 0) return;
  const cols = keys.map(quoteIdentifier);
  const nulls = Number((await ctx.query(`SELECT count(*) AS n FROM ${rowsOf} WHERE ${cols.map((c) => `${c} IS NULL`).join(' OR ')}`))[0].n);
  const keyText = keys.length === 1 ? `unique_key ${keys[0]}` : `unique_key (${keys.join(', ')})`;
  if (nulls > 0) {
    throw new ExecutionError(`${ctx.node.name}: ${nulls} new ${nulls === 1 ? 'row has' : 'rows have'} a NULL in ${keyText}; nothing was written`, {
      node: ctx.node.unique_id,
      location: { file: ctx.node.original_file_path },
    });
  }
  if (strategy !== 'merge') return;
  const dupes = Number(
    (await ctx.query(`SELECT count(*) AS n FROM (SELECT ${cols.join(', ')} FROM ${rowsOf} GROUP BY ALL HAVING count(*) > 1)`))[0].n,
  );
  if (dupes > 0) {
    throw new ExecutionError(
      `${ctx.node.name}: ${dupes} ${keyText} ${dupes === 1 ? 'value appears' : 'values appear'} in more than one new row, so merge cannot tell which wins; nothing was written`,
      { node: ctx.node.unique_id, location: { file: ctx.node.original_file_path } },
    );
  }
}

/**
 * The watermark after this run: the larger of the committed one and the maximum over the rows the
 * run wrote, computed in the column's type (so 10000000 > 9999999), kept as text.
 */
export async function newWatermark(ctx: BuildContext, rowsOf: string): Promise<BuildOutcome['watermark']> {
  const column = ctx.node.config.watermark;
  if (!column) return null;
  const col = quoteIdentifier(column);
  const [{ type }] = await ctx.query(`SELECT typeof(max(${col})) AS type FROM ${rowsOf}`);
  const dataType = String(type);
  const previous = ctx.incremental && ctx.state?.last_processed_value != null ? `CAST(${quoteLiteral(ctx.state.last_processed_value)} AS ${dataType})` : 'NULL';
  const [{ value }] = await ctx.query(`SELECT CAST(greatest(${previous}, (SELECT max(${col}) FROM ${rowsOf})) AS VARCHAR) AS value`);
  return { type: dataType, value: value === null || value === undefined ? null : String(value) };
}

/**
 * on_schema_change: the columns new rows are written with. `ignore` writes the model's existing
 * columns; `fail` stops on any difference; `append_new_columns` adds new ones; `sync_all_columns`
 * also drops removed ones and changes types.
 */
/** How the columns of the new rows differ from the model's. */
export interface ColumnDiff {
  readonly target: ReadonlyMap<string, string>;
  readonly incoming: ReadonlyMap<string, string>;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly retyped: readonly string[];
}

export async function compareColumns(ctx: BuildContext, stage: string): Promise<ColumnDiff> {
  const describe = async (rel: string) =>
    new Map((await ctx.query(`DESCRIBE ${rel}`)).map((r) => [String(r.column_name), String(r.column_type)]));
  const target = await describe(ctx.relation);
  const incoming = await describe(stage);
  return {
    target,
    incoming,
    added: [...incoming.keys()].filter((c) => !target.has(c)),
    removed: [...target.keys()].filter((c) => !incoming.has(c)),
    retyped: [...incoming.keys()].filter((c) => target.has(c) && target.get(c) !== incoming.get(c)),
  };
}

/** on_schema_change: fail — stop, naming what changed, when anything did. */
export function failOnSchemaChange(ctx: BuildContext, diff: ColumnDiff): void {
  if ((ctx.node.config.on_schema_change ?? 'ignore') !== 'fail') return;
  const { added, removed, retyped, target, incoming } = diff;
  if (added.length + removed.length + retyped.length === 0) return;
  const change = [
    added.length ? `new ${added.join(', ')}` : '',
    removed.length ? `missing ${removed.join(', ')}` : '',
    retyped.length ? `changed type ${retyped.map((c) => `${c} ${target.get(c)} -> ${incoming.get(c)}`).join(', ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  throw new ExecutionError(`${ctx.node.name}: the columns changed (${change}) and on_schema_change is fail; nothing was written`, {
    node: ctx.node.unique_id,
    location: { file: ctx.node.original_file_path },
  });
}
