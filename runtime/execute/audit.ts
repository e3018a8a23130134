import { AuditError } from '../errors.js';
import type { EngineConnection } from '../engine/engine.js';
import type { Manifest, ModelNode, SeedNode, TestNode } from '../manifest/types.js';
import type { RunPlan } from '../plan/plan.js';
import { renderRelation } from '../render/relation.js';
import type { RenderEnvironment } from '../render/render-model.js';
import { isBatched, traitsOf } from '../materializations/traits.js';
import type { NodeResult } from './results.js';
import type { RunScope } from './run-scope.js';
import { runOneTest } from './run-tests.js';

/**
 * `build`'s audit: the tests that read only this model, when it is auditable (not ones that store
 * failures: that table would be rolled back with the model). They run on the model's connection
 * before its commit, reading the new contents.
 */
export function auditsOf(manifest: Manifest, plan: RunPlan): Map<string, TestNode[]> {
  const audits = new Map<string, TestNode[]>();
  const planned = new Set(plan.nodes);
  for (const id of plan.nodes) {
    const test = manifest.nodes[id];
    if (test.resource_type !== 'test' || test.config.store_failures || test.depends_on.nodes.length !== 1) continue;
    const model = manifest.nodes[test.depends_on.nodes[0]];
    if (model?.resource_type !== 'model' || !planned.has(model.unique_id)) continue;
    if (!traitsOf(model.config.materialized).auditable || isBatched(model)) continue;
    audits.set(model.unique_id, [...(audits.get(model.unique_id) ?? []), test]);
  }
  return audits;
}

/** A model's audit, if it has one: throws (so the model rolls back) when an error-severity test fails. */
export type Audit = (stagedRelation?: string) => Promise<void>;

export function auditFor(node: ModelNode | SeedNode, connection: EngineConnection, scope: RunScope, signal: AbortSignal): Audit | undefined {
  const tests = scope.audits.get(node.unique_id);
  if (!tests || node.resource_type !== 'model') return undefined;
  return async (stagedRelation) => {
    const renv: RenderEnvironment = {
      ...scope.renv,
      relationOf: (n) => (n.unique_id === node.unique_id && stagedRelation ? stagedRelation : (scope.renv.relationOf?.(n) ?? renderRelation(n.relation))),
    };
    const failed: NodeResult[] = [];
    for (const test of tests) {
      const result = await runOneTest(test, connection, renv, signal);
      scope.audited.set(test.unique_id, result);
      if (result.status === 'fail' || result.status === 'error') failed.push(result);
    }
    if (failed.length > 0) {
      throw new AuditError(`${node.name} was not published: its ${failed.length === 1 ? 'test' : 'tests'} ${failed.map((f) => f.name).join(', ')} failed`, {
        node: node.unique_id,
        location: { file: node.original_file_path },
      });
    }
  };
}
