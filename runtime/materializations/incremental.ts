import { ExecutionError } from '../errors.js';
import { quoteIdentifier } from '../render/relation.js';
import { selectBody, type BuildContext, type BuildOutcome, type ProgramStrategy } from './materialization.js';
import { applyExternalIncrement, buildAllExternal } from './external-incremental.js';
import { checkNewRows, compareColumns, count, failOnSchemaChange, newWatermark, refuseTypeChanges, strategyOf, type Strategy } from './increment-checks.js';

/**
 * `materialized: incremental`. The first run (and a full refresh) builds the whole table; later
 * runs build the template's SELECT — which sees is_incremental() and watermark() — into a staging
 * table, check it, and apply it with the model's strategy. Runs inside the model's transaction.
 */
export const incrementalMaterialization: ProgramStrategy = {
  kind: 'program',
  async build(ctx) {
    const { node } = ctx;
    const strategy = strategyOf(node);
    if (strategy === 'microbatch') {
      // The executor builds microbatch models batch by batch (execute/run-plan.ts); never as one build.
      throw new ExecutionError('a microbatch model cannot be built as a single increment', {
        node: node.unique_id,
        location: { file: node.original_file_path },
      });
    }
    for (const hook of ctx.preHooks) await ctx.run(hook);
    const outcome = ctx.staging
      ? ctx.incremental
        ? await applyExternalIncrement(ctx, strategy)
        : await buildAllExternal(ctx)
      : ctx.incremental
        ? await applyIncrement(ctx, strategy)
        : await buildAll(ctx, strategy);
    for (const hook of await ctx.renderPostHooks()) await ctx.run(hook);
    return outcome;
  },
};

async function buildAll(ctx: BuildContext, strategy: Strategy): Promise<BuildOutcome> {
  if (ctx.existing === 'view') await ctx.run(`DROP VIEW ${ctx.relation}`);
  const rows = (await ctx.run(`CREATE OR REPLACE TABLE ${ctx.relation} AS\n${selectBody(ctx.sql)}`)).rowsAffected;
  ctx.crashPoint('mid-write');
  // A full build merges into nothing: only NULL keys (and watermarks) are checked (a GROUP BY over
  // every row would double the cost of the build).
  await checkNewRows(ctx, ctx.relation, 'append');
  return { rows, rowsTotal: rows, watermark: await newWatermark(ctx, ctx.relation) };
}

async function applyIncrement(ctx: BuildContext, strategy: Strategy): Promise<BuildOutcome> {
  const { node, relation } = ctx;
  const stage = quoteIdentifier(`__smelter_stage__${node.relation.identifier}`);
  const rows = (await ctx.run(`CREATE OR REPLACE TEMP TABLE ${stage} AS\n${selectBody(ctx.sql)}`)).rowsAffected;
  try {
    if (rows === 0) {
      // No new data: nothing to write; the state keeps its watermark.
      return { rows: 0, rowsTotal: ctx.state?.rows_total ?? (await count(ctx, relation)), watermark: await newWatermark(ctx, stage) };
    }
    await checkNewRows(ctx, stage, strategy);
    const columns = await reconcileSchema(ctx, stage);
    ctx.crashPoint('mid-write');
    const list = columns.map(quoteIdentifier).join(', ');
    const keys = node.config.unique_key ?? [];
    const match = keys.map((k) => `t.${quoteIdentifier(k)} IS NOT DISTINCT FROM s.${quoteIdentifier(k)}`).join(' AND ');
    switch (strategy) {
      case 'append':
        await ctx.run(`INSERT INTO ${relation} (${list}) SELECT ${list} FROM ${stage}`);
        break;
      case 'merge': {
        const set = columns.filter((c) => !keys.includes(c)).map((c) => `${quoteIdentifier(c)} = s.${quoteIdentifier(c)}`);
        await ctx.run(
          `MERGE INTO ${relation} AS t USING ${stage} AS s ON (${match})\n` +
            (set.length > 0 ? `WHEN MATCHED THEN UPDATE SET ${set.join(', ')}\n` : '') +
            `WHEN NOT MATCHED THEN INSERT (${list}) VALUES (${columns.map((c) => `s.${quoteIdentifier(c)}`).join(', ')})`,
        );
        break;
      }
      case 'delete+insert':
        await ctx.run(`DELETE FROM ${relation} AS t WHERE EXISTS (SELECT 1 FROM ${stage} AS s WHERE ${match})`);
        await ctx.run(`INSERT INTO ${relation} (${list}) SELECT ${list} FROM ${stage}`);
        break;
      case 'microbatch':
        break;
    }
    return { rows, rowsTotal: await count(ctx, relation), watermark: await newWatermark(ctx, stage) };
  } finally {
    await ctx.run(`DROP TABLE IF EXISTS ${stage}`);
  }
}

/**
 * on_schema_change for a database table: the columns new rows are written with. A column whose type
 * the new rows change is an error under every policy but `sync_all_columns`. `ignore` writes the
 * model's existing columns; `fail` stops on a new or missing column; `append_new_columns` adds new
 * ones; `sync_all_columns` also drops removed ones and changes types (with a warning). A widened
 * column (INTEGER rows into BIGINT) keeps the model's type: the INSERT casts it.
 */
async function reconcileSchema(ctx: BuildContext, stage: string): Promise<string[]> {
  const diff = await compareColumns(ctx, stage);
  const { target, incoming, added, removed, retyped } = diff;
  if (added.length + removed.length + retyped.length === 0) return [...target.keys()].filter((c) => incoming.has(c));
  refuseTypeChanges(ctx, diff);
  failOnSchemaChange(ctx, diff);
  switch (ctx.node.config.on_schema_change ?? 'ignore') {
    case 'ignore':
    case 'fail':
      return [...target.keys()].filter((c) => incoming.has(c));
    case 'append_new_columns':
      for (const c of added) await ctx.run(`ALTER TABLE ${ctx.relation} ADD COLUMN ${quoteIdentifier(c)} ${incoming.get(c)}`);
      return [...target.keys(), ...added].filter((c) => incoming.has(c));
    case 'sync_all_columns':
      for (const c of added) await ctx.run(`ALTER TABLE ${ctx.relation} ADD COLUMN ${quoteIdentifier(c)} ${incoming.get(c)}`);
      for (const c of removed) await ctx.run(`ALTER TABLE ${ctx.relation} DROP COLUMN ${quoteIdentifier(c)}`);
      for (const c of retyped) await ctx.run(`ALTER TABLE ${ctx.relation} ALTER COLUMN ${quoteIdentifier(c)} TYPE ${incoming.get(c)}`);
      return [...incoming.keys()];
  }
}
