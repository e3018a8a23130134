import { quoteIdentifier, quoteLiteral } from '../render/relation.js';
import { selectBody, type BuildContext } from './materialization.js';

/**
 * Write `select` as ZSTD Parquet into this run's staging folder (Hive layout with `partition_by`);
 * returns the rows written. Shared by every external materialization.
 */
export async function writeStagedFiles(ctx: BuildContext, select: string): Promise<number> {
  const staging = ctx.staging;
  if (!staging) throw new Error(`external model ${ctx.node.name} has no staging folder`);
  const partitions = ctx.node.config.partition_by ?? [];
  const options = ['FORMAT parquet', 'COMPRESSION zstd'];
  if (partitions.length > 0) options.push(`PARTITION_BY (${partitions.map(quoteIdentifier).join(', ')})`);
  staging.prepare();
  const target = partitions.length > 0 ? staging.localDir : `${staging.localDir}/part-0.parquet`;
  return (await ctx.run(`COPY (\n${selectBody(select)}) TO ${quoteLiteral(target)} (${options.join(', ')})`)).rowsAffected;
}

/** The staged files, readable as one relation (for the checks and the watermark). */
export function stagedRows(ctx: BuildContext): string {
  const hive = (ctx.node.config.partition_by?.length ?? 0) > 0 ? ', hive_partitioning = true' : '';
  return `read_parquet(${quoteLiteral(`${ctx.staging!.localDir}/**/*.parquet`)}, union_by_name = true${hive})`;
}
