import { ExecutionError, InterruptedError, SmelterError } from '../errors.js';
import type { EngineConnection } from '../engine/engine.js';
import { locateNodeError } from '../parse/parse-project.js';
import { buildRenderScope } from '../render/context.js';
import { runContext, type RenderEnvironment } from '../render/render-model.js';
import type { RelationObject } from '../render/relation-object.js';
import { databaseOn } from './database-access.js';
import { databaseMessage } from './node-results.js';
import type { NodeResult, RunEvent } from './results.js';
import type { Manifest } from '../manifest/types.js';
import type { TargetConfig } from '../project/project-config.js';
import { catalogName, nodeDict } from '../render/project-context.js';

/** The template scope of hooks: the run's vars, target and identity; no ref() or source(). */
export function hookScope(renv: RenderEnvironment, thisRelation?: string | RelationObject, extraValues?: Readonly<Record<string, unknown>>) {
  return buildRenderScope({
    ...runContext(renv),
    resolver: { ref: noHookRef, source: noHookRef, config: () => undefined, isIncremental: () => false, watermark: () => 'NULL' },
    thisRelation,
    extraValues,
  });
}

/**
 * What dbt gives on-run-end hooks besides the run's context: `results`, one per node the run
 * finished, shaped as dbt's RunResult (`node`, `status`, `message`, `execution_time`, `failures`,
 * `adapter_response`, `timing`), and `schemas`/`database_schemas`, where the run built models and seeds.
 */
export function onRunEndValues(results: readonly NodeResult[], manifest: Manifest, target: TargetConfig): Record<string, unknown> {
  const catalog = catalogName(target);
  const built = new Set<string>();
  const runResults = results.map((r) => {
    const node = manifest.nodes[r.unique_id];
    if ((r.resource_type === 'model' || r.resource_type === 'seed') && r.status === 'success' && node && 'relation' in node) built.add(node.relation.schema);
    return {
      node: node ? nodeDict(node, catalog) : { unique_id: r.unique_id, name: r.name, resource_type: r.resource_type },
      status: r.status,
      message: r.message ?? null,
      execution_time: r.seconds,
      failures: r.failures ?? null,
      adapter_response: r.rows === undefined ? {} : { rows_affected: r.rows },
      timing: r.timing.map((t) => ({ name: t.name, started_at: t.started_at, completed_at: t.completed_at })),
    };
  });
  const schemas = [...built].sort();
  return { results: runResults, schemas, database_schemas: schemas.map((s) => [catalog, s]) };
}

function noHookRef(): never {
  throw new Error('hooks cannot call ref() or source(); write the relation name');
}

/** on-run-start or on-run-end, in order; the first failure is returned (and reported), not thrown. */
export async function runHooks(
  which: 'on-run-start' | 'on-run-end',
  hooks: readonly string[],
  connection: EngineConnection,
  renv: RenderEnvironment,
  emit: (e: RunEvent) => void,
  signal?: AbortSignal,
  extraValues?: Readonly<Record<string, unknown>>,
): Promise<SmelterError | undefined> {
  for (const [i, hook] of hooks.entries()) {
    if (signal?.aborted) return new InterruptedError();
    const t0 = performance.now();
    const name = `${which}.${i + 1}`;
    try {
      const database = databaseOn(connection);
      const sql = await database.render(name, () => renv.templates().render(`project.yml (${which})`, hook, hookScope({ ...renv, database }, undefined, extraValues)), signal);
      await connection.run(sql);
      emit({ type: 'hook_finish', hook: name, status: 'success', seconds: (performance.now() - t0) / 1000 });
    } catch (error) {
      const located = locateNodeError(error, name, 'project.yml');
      const e = located instanceof SmelterError ? located : new ExecutionError(`${name} failed: ${databaseMessage(error)}`, { location: { file: 'project.yml' } });
      emit({ type: 'hook_finish', hook: name, status: 'error', seconds: (performance.now() - t0) / 1000, message: e.format() });
      return e;
    }
  }
  return undefined;
}
