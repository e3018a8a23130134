import { ExecutionError, InterruptedError, SmelterError } from '../errors.js';
import type { Manifest, ModelNode, SeedNode, TestNode, UnitTestNode } from '../manifest/types.js';
import { locateNodeError } from '../parse/parse-project.js';
import type { NodeResult } from './results.js';

/** Thrown by a node's work so that the scheduler skips its descendants; carries the result to report. */
export class NodeFailure extends Error {
  constructor(readonly result: NodeResult) {
    super(result.message);
  }
}

/**
 * The one triage of a node's failure: an interruption, a located template or project error, or
 * the database's (or storage's) own message pointing at the model's file.
 */
export function nodeError(error: unknown, node: { unique_id: string; original_file_path: string }, signal: AbortSignal, hint?: string): SmelterError {
  if (signal.aborted) return new InterruptedError('interrupted', { node: node.unique_id });
  const located = locateNodeError(error, node.unique_id, node.original_file_path);
  if (located instanceof SmelterError) return located;
  return new ExecutionError(databaseMessage(error), { node: node.unique_id, location: { file: node.original_file_path }, hint });
}

/** DuckDB's message without the caret diagram, which points into SQL the user did not write. */
export function databaseMessage(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  return message
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^LINE \d+:/.test(l) && !/^\s*\^\s*$/.test(l))
    .slice(0, 3)
    .join(' ');
}

export function skippedResult(manifest: Manifest, id: string, because?: string): NodeResult {
  const node = manifest.nodes[id] as ModelNode | SeedNode | TestNode | UnitTestNode;
  return {
    unique_id: id,
    name: node.name,
    resource_type: node.resource_type,
    kind: node.resource_type === 'model' ? node.config.materialized : node.resource_type,
    relation: node.resource_type === 'test' || node.resource_type === 'unit_test' ? node.name : `${node.relation.schema}.${node.relation.identifier}`,
    status: 'skipped',
    seconds: 0,
    message: because ? `skipped because ${manifest.nodes[because]?.name ?? because} failed` : 'skipped',
    timing: [],
  };
}

export function failedResult(manifest: Manifest, id: string, error: unknown): NodeResult {
  const e = error instanceof SmelterError ? error : new ExecutionError(String((error as Error)?.message ?? error), { node: id });
  return { ...skippedResult(manifest, id), status: 'error', message: e.format(), error: e };
}
