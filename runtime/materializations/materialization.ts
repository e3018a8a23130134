import type { ModelNode } from '../manifest/types.js';
import type { Row, StatementResult } from '../engine/engine.js';
import type { StateRecord } from '../state/state-record.js';
import type { CrashPoint } from '../execute/crash-points.js';

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
  /** Rendered with the model; they run before its statements. */
  readonly preHooks: readonly string[];
}

/**
 * A materialization whose statements are known before anything runs (view, table, seed). It only
 * plans; the executor runs them in one transaction, then the post-hooks (so hooks share the model's
 * transaction, and a failure leaves what was there before untouched).
 */
export interface StatementsStrategy {
  readonly kind: 'statements';
  plan(input: MaterializationInput): PlannedStatement[];
}

/** What a materialization that must look at its data (incremental) can do, inside the model's transaction. */
export interface BuildContext extends MaterializationInput {
  /** The committed state, if any. */
  readonly state: StateRecord | undefined;
  /** True when this run processes only new data (is_incremental() in the template). */
  readonly incremental: boolean;
  /** The run's start: when rows without an effective time of their own take effect (scd2). */
  readonly runStartedAt: Date;
  run(sql: string): Promise<StatementResult>;
  query(sql: string): Promise<Row[]>;
  crashPoint(point: CrashPoint): void;
  /** The run's warning channel (a column's type changed under sync_all_columns). */
  warn?(message: string): void;
  /**
   * The post-hooks, rendered when called, as dbt renders them: after the build, so a `run_query`
   * in one sees what the model just wrote. Run them last, inside the model's transaction.
   */
  renderPostHooks(): Promise<readonly string[]>;
  /**
   * External models: the local folder where this run writes the model's new files (the commit
   * protocol stores them), and the files committed so far (relative to the location, and as
   * DuckDB reads them).
   */
  readonly staging?: {
    readonly localDir: string;
    readonly committed: ReadonlyArray<CommittedLocalFile>;
  };
}

/** A committed file of an external model: its name in the location, its size, where DuckDB reads it. */
export interface CommittedLocalFile {
  readonly file: string;
  readonly bytes: number;
  readonly localPath: string;
}

export interface BuildOutcome {
  /** Rows this run wrote. */
  readonly rows: number;
  /** Rows in the model afterwards. */
  readonly rowsTotal: number;
  /** The new watermark (never behind the committed one), or null for a model without one. */
  readonly watermark: { readonly type: string; readonly value: string | null } | null;
  /** External models: the new files join the committed ones (`add`) or replace them (`replace`). */
  readonly fileSet?: 'add' | 'replace';
  /** With `add`: committed files the new ones supersede (rewritten because they held affected keys). */
  readonly superseded?: readonly string[];
}

/**
 * A materialization that runs a small program: build into staging, inspect it (keys, schema,
 * watermark), then apply. Typed TypeScript, not a template; the executor owns the transaction and
 * the state commit around it.
 */
export interface ProgramStrategy {
  readonly kind: 'program';
  build(context: BuildContext): Promise<BuildOutcome>;
}

export type MaterializationStrategy = StatementsStrategy | ProgramStrategy;

/** The SELECT as the body of CREATE ... AS: trailing semicolons removed, ending on its own line. */
export function selectBody(sql: string): string {
  return `${sql.trim().replace(/;+\s*$/, '')}\n`;
}
