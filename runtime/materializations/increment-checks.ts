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

/**
 * The checks on the new rows before anything is written: a NULL in the watermark column, a NULL key,
 * and (merge) one key twice among the rows to merge are errors naming the model and the count.
 */
export async function checkNewRows(ctx: BuildContext, rowsOf: string, strategy: Strategy): Promise<void> {
  await checkWatermarkNulls(ctx, rowsOf);
  await checkKeys(ctx, rowsOf, strategy);
}

/**
 * A row whose watermark column is NULL is beyond the watermark's reach: the watermark ignores it,
 * and a filter such as `where id > watermark()` never selects it again. Refused, as a NULL key is,
 * rather than published once and then silently dropped by every later run.
 */
async function checkWatermarkNulls(ctx: BuildContext, rowsOf: string): Promise<void> {
  const column = ctx.node.config.watermark;
  if (!column) return;
  const nulls = Number((await ctx.query(`SELECT count(*) AS n FROM ${rowsOf} WHERE ${quoteIdentifier(column)} IS NULL`))[0].n);
  if (nulls === 0) return;
  throw new ExecutionError(`${ctx.node.name}: ${nulls} new ${nulls === 1 ? 'row has' : 'rows have'} a NULL in the watermark column ${column}; nothing was written`, {
    node: ctx.node.unique_id,
    location: { file: ctx.node.original_file_path },
    hint: `the watermark cannot track such rows: fill ${column} in the model (coalesce) or leave those rows out`,
  });
}

async function checkKeys(ctx: BuildContext, rowsOf: string, strategy: Strategy): Promise<void> {
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

/** How the columns of the new rows differ from the model's. */
export interface ColumnDiff {
  readonly target: ReadonlyMap<string, string>;
  readonly incoming: ReadonlyMap<string, string>;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /**
   * Columns of another type that DuckDB casts to the model's type implicitly and that combine with
   * it into the model's type (INTEGER rows into a BIGINT column): written as the model's type, so
   * the published type stays as it is. Not a schema change.
   */
  readonly widened: readonly string[];
  /** Columns whose new rows would change the model's type (TIMESTAMP -> VARCHAR, BIGINT -> INTEGER). */
  readonly retyped: readonly string[];
}

/** What the column checks need of a build: a microbatch batch gives the same without a BuildContext. */
export type ColumnCheckContext = Pick<BuildContext, 'node' | 'relation' | 'query' | 'warn'>;

export async function compareColumns(ctx: ColumnCheckContext, stage: string): Promise<ColumnDiff> {
  const describe = async (rel: string) =>
    new Map((await ctx.query(`DESCRIBE ${rel}`)).map((r) => [String(r.column_name), String(r.column_type)]));
  const target = await describe(ctx.relation);
  const incoming = await describe(stage);
  const differ = [...incoming.keys()].filter((c) => target.has(c) && target.get(c) !== incoming.get(c));
  const widened: string[] = [];
  for (const c of differ) if (await keepsType(ctx, target.get(c)!, incoming.get(c)!)) widened.push(c);
  return {
    target,
    incoming,
    added: [...incoming.keys()].filter((c) => !target.has(c)),
    removed: [...target.keys()].filter((c) => !incoming.has(c)),
    widened,
    retyped: differ.filter((c) => !widened.includes(c)),
  };
}

/**
 * Whether rows of type `incoming` go into a column of type `committed` without changing it: DuckDB
 * casts them implicitly (never VARCHAR to anything, nor a narrowing), and a UNION of the two types
 * is the committed type (as Parquet files of both are read together). A type DuckDB cannot name
 * back from its description counts as a change.
 */
async function keepsType(ctx: ColumnCheckContext, committed: string, incoming: string): Promise<boolean> {
  try {
    const [row] = await ctx.query(
      `SELECT can_cast_implicitly(NULL::${incoming}, NULL::${committed}) AND typeof(x) = typeof(NULL::${committed}) AS keeps FROM (SELECT NULL::${committed} AS x UNION ALL SELECT NULL::${incoming}) LIMIT 1`,
    );
    return row.keeps === true;
  } catch {
    return false;
  }
}

/**
 * A column whose type the new rows change: an error under every on_schema_change policy but
 * sync_all_columns, which changes the model's type and says so (a warning). The published type of
 * a column never changes without one of these: the policy, or a --full-refresh. A model that cannot
 * rewrite its older rows (`always`: scd2 keeps its history as written, a microbatch batch writes
 * only its window) refuses it under every policy, saying why.
 */
export function refuseTypeChanges(ctx: ColumnCheckContext, diff: ColumnDiff, options: { always?: { why: string; hint: string } } = {}): void {
  const { retyped, target, incoming } = diff;
  if (retyped.length === 0) return;
  const policy = ctx.node.config.on_schema_change ?? 'ignore';
  const changes = retyped.map((c) => `${c} from ${target.get(c)} to ${incoming.get(c)}`).join(', ');
  if (policy === 'sync_all_columns' && !options.always) {
    ctx.warn?.(`${ctx.node.name}: the new rows change the type of ${changes}; on_schema_change is sync_all_columns, so the model's ${retyped.length === 1 ? 'column changes' : 'columns change'} type`);
    return;
  }
  const first = retyped[0];
  const cast = `cast it in the model, as CAST(${plainIdentifier(first)} AS ${target.get(first)})`;
  throw new ExecutionError(
    options.always
      ? `${ctx.node.name}: the new rows change the type of ${changes}; ${options.always.why}, so nothing was written`
      : `${ctx.node.name}: the new rows change the type of ${changes} (on_schema_change: ${policy}); nothing was written`,
    {
      node: ctx.node.unique_id,
      location: { file: ctx.node.original_file_path },
      hint: options.always
        ? `${cast}; or ${options.always.hint}`
        : `${cast}; or set on_schema_change: sync_all_columns to change the model's type; or rebuild with --full-refresh`,
    },
  );
}

/** A column name as a user would type it in a hint: quoted only when it must be. */
function plainIdentifier(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : quoteIdentifier(name);
}

/** on_schema_change: fail — stop, naming what changed, when a column is new or missing (a type change is refused before). */
export function failOnSchemaChange(ctx: BuildContext, diff: ColumnDiff): void {
  if ((ctx.node.config.on_schema_change ?? 'ignore') !== 'fail') return;
  const { added, removed } = diff;
  if (added.length + removed.length === 0) return;
  const change = [added.length ? `new ${added.join(', ')}` : '', removed.length ? `missing ${removed.join(', ')}` : ''].filter(Boolean).join('; ');
  throw new ExecutionError(`${ctx.node.name}: the columns changed (${change}) and on_schema_change is fail; nothing was written`, {
    node: ctx.node.unique_id,
    location: { file: ctx.node.original_file_path },
  });
}

/** Each of `columns` as the new rows are written: a widened column cast to the model's type. */
export function columnsAsWritten(diff: ColumnDiff, columns: readonly string[]): string {
  return columns.map((c) => (diff.widened.includes(c) ? `CAST(${quoteIdentifier(c)} AS ${diff.target.get(c)}) AS ${quoteIdentifier(c)}` : quoteIdentifier(c))).join(', ');
}
