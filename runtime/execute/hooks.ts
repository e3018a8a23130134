import { ExecutionError, InterruptedError, SmelterError } from '../errors.js';
import type { EngineConnection } from '../engine/engine.js';
import { locateNodeError } from '../parse/parse-project.js';
import { buildRenderScope } from '../render/context.js';
import { runContext, type RenderEnvironment } from '../render/render-model.js';
import type { RelationObject } from '../render/relation-object.js';
import { databaseOn } from './database-access.js';
import { databaseMessage } from './node-results.js';
import type { RunEvent } from './results.js';

/** The template scope of hooks: the run's vars, target and identity; no ref() or source(). */
export function hookScope(renv: RenderEnvironment, thisRelation?: string | RelationObject) {
  return buildRenderScope({
    ...runContext(renv),
    resolver: { ref: noHookRef, source: noHookRef, config: () => undefined, isIncremental: () => false, watermark: () => 'NULL' },
    thisRelation,
  });
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
): Promise<SmelterError | undefined> {
  for (const [i, hook] of hooks.entries()) {
    if (signal?.aborted) return new InterruptedError();
    const t0 = performance.now();
    const name = `${which}.${i + 1}`;
    try {
      const database = databaseOn(connection);
      const sql = await database.render(name, () => renv.templates().render(`project.yml (${which})`, hook, hookScope({ ...renv, database })), signal);
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
