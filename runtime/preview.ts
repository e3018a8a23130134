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
import { resolveModelConfig } from './parse/resolve-config.js';

/** What `show` previews of one model or seed: its columns and first rows. */
export interface Preview {
  readonly unique_id: string;
  readonly name: string;
  /** The query of `--inline`, not a node of the project. */
  readonly inline: boolean;
  readonly table: ResultTable;
}

export interface PreviewOutcome {
  readonly previews: readonly Preview[];
  /** Nodes whose SQL failed (a relation not built yet, a template error), each located. */
  readonly errors: readonly SmelterError[];
  readonly warnings: readonly string[];
}

/** `limit` rows of each (-1: all of them); `inline`: a query to preview instead of a selection. */
export interface PreviewOptions extends InvocationOptions {
  readonly limit: number;
  readonly inline?: string;
}

/** The name dbt gives the node of `show --inline`. */
export const INLINE_NAME = 'inline_query';

/**
 * `smelter show` (dbt's `show --select`): each selected model's SQL, rendered as `compile` renders
 * it, run on the target's database with a LIMIT, and each selected seed's table read. It writes
 * nothing: no artifact, no state, and no database file where none exists (it needs what `run` built).
 */
export async function previewProject(options: PreviewOptions): Promise<PreviewOutcome> {
  const p = openProject(options);
  if (options.inline !== undefined && (options.select ?? []).length > 0) throw new UsageError('show takes --select or --inline, not both');
  const { nodes, warnings } = options.inline === undefined ? selectFrom(p, options, ['model', 'seed']) : { nodes: [], warnings: [] };
  const shown = (options.inline === undefined ? nodes.filter((n) => n.resource_type === 'seed' || (n.resource_type === 'model' && n.config.materialized !== 'ephemeral')) : [inlineNode(p, options.inline)]) as Array<ModelNode | SeedNode>;
  if (shown.length === 0) throw new UsageError('show needs --select naming a model or a seed (an ephemeral model has no relation of its own), or --inline with a query');
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
        // Always a subquery: a statement that is not a query (DELETE, a second statement) is then a syntax error, not run.
        const table = await connection.queryTable(`SELECT * FROM (\n${sql})${options.limit < 0 ? '' : ` LIMIT ${Math.trunc(options.limit)}`}`);
        previews.push({ unique_id: node.unique_id, name: node.name, inline: options.inline !== undefined, table });
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

/**
 * `--inline`: the query as a model of the root project that may read any model, seed or source
 * (its refs are not known before it renders), rendered with the project's macros and vars.
 */
function inlineNode(p: ReturnType<typeof openProject>, text: string): ModelNode {
  const { config } = p.project;
  const uniqueId = `model.${config.name}.${INLINE_NAME}`;
  const readable = Object.values(p.manifest.nodes).filter((n) => n.resource_type === 'model' || n.resource_type === 'seed' || n.resource_type === 'source');
  return {
    resource_type: 'model',
    unique_id: uniqueId,
    name: INLINE_NAME,
    package_name: config.name,
    original_file_path: '--inline',
    path: '--inline',
    fqn: [config.name, INLINE_NAME],
    tags: [],
    description: '',
    columns: {},
    raw_code: text,
    checksum: '',
    config: resolveModelConfig(INLINE_NAME, [], uniqueId),
    relation: { schema: config.target.schema, identifier: INLINE_NAME },
    refs: [],
    sources: [],
    depends_on: { nodes: readable.map((n) => n.unique_id), macros: [] },
    parsed_by_render: false,
  };
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
