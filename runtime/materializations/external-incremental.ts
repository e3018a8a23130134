import { ExecutionError } from '../errors.js';
import { quoteIdentifier, quoteLiteral } from '../render/relation.js';
import { selectBody, type BuildContext, type BuildOutcome } from './materialization.js';
import { checkKeys, newWatermark, type Strategy } from './incremental.js';

/**
 * Incremental models stored as Parquet (`external: true`). Appends write only new files; merge and
 * delete+insert (and sync_all_columns) rewrite the model's files — the fallback SPEC §4 allows where
 * the layout gives no narrower set. The executor publishes the files with the state.
 */

/** Write `select` as ZSTD Parquet into this run's staging folder; returns the rows written. */
async function writeFiles(ctx: BuildContext, select: string): Promise<number> {
  const staging = ctx.staging!;
  const partitions = ctx.node.config.partition_by ?? [];
  const options = ['FORMAT parquet', 'COMPRESSION zstd'];
  if (partitions.length > 0) options.push(`PARTITION_BY (${partitions.map(quoteIdentifier).join(', ')})`);
  staging.prepare();
  const target = partitions.length > 0 ? staging.localDir : `${staging.localDir}/part-0.parquet`;
  return (await ctx.run(`COPY (\n${selectBody(select)}) TO ${quoteLiteral(target)} (${options.join(', ')})`)).rowsAffected;
}

/** The staged files, readable as one relation (for the checks and the watermark). */
function stagedRows(ctx: BuildContext): string {
  const hive = (ctx.node.config.partition_by?.length ?? 0) > 0 ? ', hive_partitioning = true' : '';
  return `read_parquet(${quoteLiteral(`${ctx.staging!.localDir}/**/*.parquet`)}, union_by_name = true${hive})`;
}

export async function buildAllExternal(ctx: BuildContext): Promise<BuildOutcome> {
  const rows = await writeFiles(ctx, ctx.sql);
  ctx.crashPoint('mid-write');
  const written = rows > 0 ? stagedRows(ctx) : undefined;
  if (written) await checkKeys(ctx, written, 'append');
  return { rows, rowsTotal: rows, watermark: written ? await newWatermark(ctx, written) : null, fileSet: 'replace' };
}

export async function applyExternalIncrement(ctx: BuildContext, strategy: Strategy): Promise<BuildOutcome> {
  const { node, relation } = ctx;
  const stage = quoteIdentifier(`__smelter_stage__${node.relation.identifier}`);
  const rows = (await ctx.run(`CREATE OR REPLACE TEMP TABLE ${stage} AS\n${selectBody(ctx.sql)}`)).rowsAffected;
  try {
    if (rows === 0) return { rows: 0, rowsTotal: ctx.state?.rows_total ?? 0, watermark: await newWatermark(ctx, stage), fileSet: 'add' };
    await checkKeys(ctx, stage, strategy);
    const describe = async (rel: string) => (await ctx.query(`DESCRIBE ${rel}`)).map((r) => String(r.column_name));
    const existing = await describe(relation);
    const incoming = await describe(stage);
    const added = incoming.filter((c) => !existing.includes(c));
    const removed = existing.filter((c) => !incoming.includes(c));
    const policy = node.config.on_schema_change ?? 'ignore';
    if (policy === 'fail' && added.length + removed.length > 0) {
      throw new ExecutionError(
        `${node.name}: the columns changed (${[added.length ? `new ${added.join(', ')}` : '', removed.length ? `missing ${removed.join(', ')}` : ''].filter(Boolean).join('; ')}) and on_schema_change is fail; nothing was written`,
        { node: node.unique_id, location: { file: node.original_file_path } },
      );
    }
    // ignore: the model's columns; append_new_columns: also the new ones (older files read them as
    // NULL, as Parquet is read by name); sync_all_columns: the new rows' columns, all files rewritten.
    const columns = policy === 'ignore' ? existing.filter((c) => incoming.includes(c)) : policy === 'sync_all_columns' ? incoming : [...existing.filter((c) => incoming.includes(c)), ...added];
    const list = columns.map(quoteIdentifier).join(', ');
    const rewrite = strategy !== 'append' || (policy === 'sync_all_columns' && added.length + removed.length > 0);
    let written: number;
    if (!rewrite) {
      written = await writeFiles(ctx, `SELECT ${list} FROM ${stage}`);
    } else {
      const keys = node.config.unique_key ?? [];
      const kept =
        strategy === 'append'
          ? `SELECT ${existingList(existing, columns)} FROM ${relation}`
          : `SELECT ${existingList(existing, columns)} FROM ${relation} AS t WHERE NOT EXISTS (SELECT 1 FROM ${stage} AS s WHERE ${keys
              .map((k) => `t.${quoteIdentifier(k)} IS NOT DISTINCT FROM s.${quoteIdentifier(k)}`)
              .join(' AND ')})`;
      written = await writeFiles(ctx, `${kept}\nUNION ALL BY NAME\nSELECT ${list} FROM ${stage}`);
    }
    ctx.crashPoint('mid-write');
    return {
      rows,
      rowsTotal: rewrite ? written : (ctx.state?.rows_total ?? 0) + written,
      watermark: await newWatermark(ctx, stage),
      fileSet: rewrite ? 'replace' : 'add',
    };
  } finally {
    await ctx.run(`DROP TABLE IF EXISTS ${stage}`);
  }
}

/** The model's existing rows projected on `columns` (a column it lacks reads as NULL). */
function existingList(existing: readonly string[], columns: readonly string[]): string {
  return columns.map((c) => (existing.includes(c) ? quoteIdentifier(c) : `NULL AS ${quoteIdentifier(c)}`)).join(', ');
}

