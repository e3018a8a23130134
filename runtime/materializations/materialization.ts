import type { ModelNode } from '../manifest/types.js';

export type RelationKind = 'table' | 'view';

/** A statement a materialization runs; `main` is the one whose row count is reported. */
export interface PlannedStatement {
  readonly sql: string;
  readonly role: 'hook' | 'ddl' | 'main';
}

/** Everything a materialization needs to write its statements: pure data, no connection. */
export interface MaterializationInput {
  readonly node: ModelNode;
  /** The rendered SELECT. */
  readonly sql: string;
  /** The rendered relation name (`"schema"."alias"`). */
  readonly relation: string;
  /** What already exists under the relation's name, if anything. */
  readonly existing: RelationKind | undefined;
  readonly preHooks: readonly string[];
  readonly postHooks: readonly string[];
}

/**
 * One way of turning a SELECT into a database object. A materialization only plans statements;
 * the executor runs them in one transaction (so hooks share the model's transaction, and a failure
 * leaves what was there before untouched).
 */
export interface MaterializationStrategy {
  plan(input: MaterializationInput): PlannedStatement[];
}

/** The SELECT as the body of CREATE ... AS: trailing semicolons removed, ending on its own line. */
export function selectBody(sql: string): string {
  return `${sql.trim().replace(/;+\s*$/, '')}\n`;
}
