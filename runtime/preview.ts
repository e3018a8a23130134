import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { isAbsolute, join, relative } from 'node:path';
import type { Engine, ResultTable } from './engine/engine.js';
import { SmelterError, UsageError } from './errors.js';
import { databaseOn } from './execute/database-access.js';
import { nodeError } from './execute/node-results.js';
import { openProject, openTargetDatabase, selectFrom, type InvocationOptions } from './invocation.js';
import type { ModelNode, SeedNode } from './manifest/types.js';
import { selectBody } from './materializations/materialization.js';
import { renderModel } from './render/render-model.js';
import { renderRelation } from './render/relation.js';

/** What `show` previews of one model or seed: its columns and first rows. */
export interface Preview {
  readonly unique_id: string;
  readonly name: string;
  readonly table: ResultTable;
}

export interface PreviewOutcome {
  readonly previews: readonly Preview[];
  /** Nodes whose SQL failed (a relation not built yet, a template error), each located. */
  readonly errors: readonly SmelterError[];
  readonly warnings: readonly string[];
}

/** `limit` rows of each (-1: all of them). */
export interface PreviewOptions extends InvocationOptions {
  readonly limit: number;
}

/**
 * `smelter show` (dbt's `show --select`): each selected model's SQL, rendered as `compile` renders
 * it, run on the target's database with a LIMIT, and each selected seed's table read. It writes
 * nothing: no artifact, no state, and no database file where none exists (it needs what `run` built).
 */
export async function previewProject(options: PreviewOptions): Promise<PreviewOutcome> {
  const p = openProject(options);
  const { nodes, warnings } = selectFrom(p, options, ['model', 'seed']);
  const shown = nodes.filter((n) => n.resource_type === 'seed' || (n.resource_type === 'model' && n.config.materialized !== 'ephemeral')) as Array<ModelNode | SeedNode>;
  if (shown.length === 0) throw new UsageError('show needs --select naming a model or a seed (an ephemeral model has no relation of its own)');
  const target = p.project.config.target;
  const databasePath = target.databasePath === ':memory:' || isAbsolute(target.databasePath) ? target.databasePath : join(p.project.config.dir, target.databasePath);
  if (databasePath === ':memory:' || !existsSync(databasePath)) {
    const shown = databasePath === ':memory:' ? databasePath : relative(p.project.config.dir, databasePath);
    throw new UsageError(`the target's database ${shown} ${databasePath === ':memory:' ? 'is in memory' : 'does not exist yet'}: show reads what a run built`, {
      hint: 'run smelter build (or run) first, on a target with a database file',
    });
  }
  const engine: Engine = await openTargetDatabase(target);
  const connection = await engine.connect();
  const previews: Preview[] = [];
  const errors: SmelterError[] = [];
  const signal = new AbortController().signal;
  try {
    for (const node of shown) {
      try {
        const sql = node.resource_type === 'seed' ? `SELECT * FROM ${renderRelation(node.relation)}` : selectBody(await renderForShow(node, p, options, connection));
        const table = await connection.queryTable(options.limit < 0 ? sql : `SELECT * FROM (\n${sql}) LIMIT ${Math.trunc(options.limit)}`);
        previews.push({ unique_id: node.unique_id, name: node.name, table });
      } catch (error) {
        errors.push(nodeError(error, node, signal));
      }
    }
  } finally {
    connection.close();
    engine.close();
  }
  return { previews, errors, warnings };
}

/** The model's full SELECT (not its incremental filter), its queries answered on the target's database. */
async function renderForShow(node: ModelNode, p: ReturnType<typeof openProject>, options: InvocationOptions, connection: Awaited<ReturnType<Engine['connect']>>): Promise<string> {
  const database = databaseOn(connection);
  return database.render(node.name, () =>
    renderModel(node, {
      manifest: p.manifest,
      project: p.project,
      templates: p.parsed.templates,
      env: options.env ?? process.env,
      runStartedAt: new Date(),
      invocationId: randomUUID(),
      flags: { which: 'show' },
      database,
    }),
  );
}
