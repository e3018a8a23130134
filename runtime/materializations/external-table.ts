import { quoteIdentifier, quoteLiteral } from '../render/relation.js';
import { selectBody, type ProgramStrategy } from './materialization.js';

/**
 * `materialized: table` with `external: true`: the SELECT written as ZSTD Parquet into this run's
 * staging folder (Hive layout with `partition_by`). Publishing the files — the file-set manifest,
 * the state, the move into the model's location, the view — is the commit protocol's job.
 */
export const externalTableMaterialization: ProgramStrategy = {
  kind: 'program',
  async build(ctx) {
    const staging = ctx.staging;
    if (!staging) throw new Error('external models need storage');
    for (const hook of ctx.preHooks) await ctx.run(hook);
    const partitions = ctx.node.config.partition_by ?? [];
    const target = partitions.length > 0 ? staging.localDir : `${staging.localDir}/part-0.parquet`;
    const options = ['FORMAT parquet', 'COMPRESSION zstd'];
    if (partitions.length > 0) options.push(`PARTITION_BY (${partitions.map(quoteIdentifier).join(', ')})`);
    staging.prepare();
    const rows = (await ctx.run(`COPY (\n${selectBody(ctx.sql)}) TO ${quoteLiteral(target)} (${options.join(', ')})`)).rowsAffected;
    ctx.crashPoint('mid-write');
    for (const hook of ctx.postHooks) await ctx.run(hook);
    return { rows, rowsTotal: rows, watermark: null };
  },
};
