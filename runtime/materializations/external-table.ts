import type { ProgramStrategy } from './materialization.js';
import { writeStagedFiles } from './parquet-files.js';

/**
 * `materialized: table` with `external: true`: the SELECT written as ZSTD Parquet into this run's
 * staging folder. Publishing the files — the file-set manifest, the state, the move into the
 * model's location, the view — is the commit protocol's job.
 */
export const externalTableMaterialization: ProgramStrategy = {
  kind: 'program',
  async build(ctx) {
    for (const hook of ctx.preHooks) await ctx.run(hook);
    const rows = await writeStagedFiles(ctx, ctx.sql);
    ctx.crashPoint('mid-write');
    for (const hook of await ctx.renderPostHooks()) await ctx.run(hook);
    return { rows, rowsTotal: rows, watermark: null, fileSet: 'replace' };
  },
};
