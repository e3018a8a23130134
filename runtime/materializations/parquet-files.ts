import type { StatementResult } from '../engine/engine.js';
import type { ModelNode } from '../manifest/types.js';
import { quoteIdentifier, quoteLiteral } from '../render/relation.js';
import { selectBody, type BuildContext } from './materialization.js';

/**
 * Write `select` as ZSTD Parquet into `localDir` (Hive layout with the model's `partition_by`);
 * returns the rows written. The one Parquet writer of every external materialization.
 */
export async function copyToParquet(
  run: (sql: string) => Promise<StatementResult>,
  node: ModelNode,
  localDir: string,
  select: string,
): Promise<number> {
  const partitions = node.config.partition_by ?? [];
  const options = ['FORMAT parquet', 'COMPRESSION zstd'];
  if (partitions.length > 0) options.push(`PARTITION_BY (${partitions.map(quoteIdentifier).join(', ')})`);
  const target = partitions.length > 0 ? localDir : `${localDir}/part-0.parquet`;
  return (await run(`COPY (\n${selectBody(select)}) TO ${quoteLiteral(target)} (${options.join(', ')})`)).rowsAffected;
}

/** `copyToParquet` into this run's staging folder for the model. */
export async function writeStagedFiles(ctx: BuildContext, select: string): Promise<number> {
  const staging = ctx.staging;
  if (!staging) throw new Error(`external model ${ctx.node.name} has no staging folder`);
  return copyToParquet(ctx.run, ctx.node, staging.localDir, select);
}

/** Parquet files read as one relation, by name (and Hive partitions when the model has them). */
export function readParquetFiles(node: ModelNode, paths: readonly string[], extra = ''): string {
  const hive = (node.config.partition_by?.length ?? 0) > 0 ? ', hive_partitioning = true' : '';
  const list = paths.length === 1 && paths[0].includes('*') ? quoteLiteral(paths[0]) : `[${paths.map(quoteLiteral).join(', ')}]`;
  return `read_parquet(${list}, union_by_name = true${hive}${extra})`;
}

/** The staged files, readable as one relation (for the checks and the watermark). */
export function stagedRows(ctx: BuildContext): string {
  return readParquetFiles(ctx.node, [`${ctx.staging!.localDir}/**/*.parquet`]);
}
