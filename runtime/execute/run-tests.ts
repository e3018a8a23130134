import { ExecutionError, InterruptedError, SmelterError } from '../errors.js';
import type { Engine, EngineConnection } from '../engine/engine.js';
import type { TestNode } from '../manifest/types.js';
import type { ParseResult } from '../parse/parse-project.js';
import type { LoadedProject } from '../project/load-project.js';
import { quoteIdentifier } from '../render/relation.js';
import { renderTest } from '../render/test-sql.js';
import type { RenderEnvironment } from '../render/render-model.js';
import { schedule } from './scheduler.js';
import type { NodeResult, RunEvent, RunResult } from './results.js';

/**
 * `smelter test`: each selected data test's query, counted, and judged by its severity and its
 * warn_if/error_if thresholds (SPEC §6). A test passes when its query returns no rows. Tests only
 * read, except `store_failures`, which keeps the failing rows in `<schema>_dbt_test__audit`.
 */
export interface TestRunOptions {
  readonly project: LoadedProject;
  readonly parsed: ParseResult;
  readonly tests: readonly TestNode[];
  readonly engine: Engine;
  readonly threads: number;
  readonly failFast?: boolean;
  readonly signal?: AbortSignal;
  readonly env?: NodeJS.ProcessEnv;
  readonly invocationId: string;
  readonly runStartedAt: Date;
  readonly onEvent?: (event: RunEvent) => void;
}

export async function executeTests(options: TestRunOptions): Promise<RunResult> {
  const started = performance.now();
  const emit = options.onEvent ?? (() => undefined);
  const renv: RenderEnvironment = {
    manifest: options.parsed.manifest,
    project: options.project,
    templates: options.parsed.templates,
    env: options.env ?? process.env,
    runStartedAt: options.runStartedAt,
    invocationId: options.invocationId,
  };
  const byId = new Map(options.tests.map((t) => [t.unique_id, t]));
  const ids = [...byId.keys()];
  const threads = Math.max(1, Math.min(options.threads, ids.length));
  const free: EngineConnection[] = [];
  for (let i = 0; i < threads; i++) free.push(await options.engine.connect());
  const results: NodeResult[] = [];
  const running: string[] = [];
  emit({ type: 'run_start', total: ids.length, threads });
  try {
    await schedule<NodeResult>({
      nodes: ids,
      parents: new Map(),
      concurrency: threads,
      failFast: options.failFast,
      signal: options.signal,
      onStart: (id) => {
        running.push(id);
        emit({ type: 'node_start', unique_id: id, running: [...running] });
      },
      onFinish: (id, outcome) => {
        running.splice(running.indexOf(id), 1);
        const test = byId.get(id)!;
        const result: NodeResult =
          outcome.value ??
          (outcome.error instanceof TestFailure ? outcome.error.result : undefined) ??
          (outcome.status === 'skipped'
            ? { ...base(test), status: 'skipped', seconds: 0, timing: [] }
            : { ...base(test), status: 'error', seconds: 0, timing: [], message: String((outcome.error as Error)?.message ?? outcome.error) });
        results.push(result);
        emit({ type: 'node_finish', result, index: results.length, total: ids.length, running: [...running] });
      },
      work: async (id, signal) => {
        const connection = free.pop()!;
        try {
          const result = await runOneTest(byId.get(id)!, connection, renv, signal);
          // fail-fast stops at a failed test as at a failed model.
          if (result.status === 'fail' || result.status === 'error') throw new TestFailure(result);
          return result;
        } finally {
          free.push(connection);
        }
      },
    });
  } finally {
    for (const c of free) c.close();
  }
  const result: RunResult = {
    invocation_id: options.invocationId,
    started_at: options.runStartedAt.toISOString(),
    elapsed_seconds: (performance.now() - started) / 1000,
    results,
    interrupted: options.signal?.aborted ?? false,
  };
  emit({ type: 'run_finish', result });
  return result;
}

/** Carries a failed test's result through the scheduler, so that --fail-fast stops at it as at a failed model. */
class TestFailure extends Error {
  constructor(readonly result: NodeResult) {
    super(result.message);
  }
}

function base(test: TestNode) {
  return { unique_id: test.unique_id, name: test.name, resource_type: 'test' as const, kind: 'test', relation: test.name };
}

export async function runOneTest(test: TestNode, connection: EngineConnection, renv: RenderEnvironment, signal: AbortSignal): Promise<NodeResult> {
  const t0 = performance.now();
  const compileStart = new Date().toISOString();
  const statements: string[] = [];
  const onAbort = () => connection.interrupt();
  signal.addEventListener('abort', onAbort, { once: true });
  const finish = (fields: Partial<NodeResult> & Pick<NodeResult, 'status'>, compiled: string): NodeResult => ({
    ...base(test),
    seconds: (performance.now() - t0) / 1000,
    timing: [
      { name: 'compile', started_at: compileStart, completed_at: compiled },
      { name: 'execute', started_at: compiled, completed_at: new Date().toISOString() },
    ],
    statements,
    ...fields,
  });
  let compiled = compileStart;
  try {
    const failing = `select * from (\n${renderTest(test, renv).trim().replace(/;+$/, '')}\n) as test_rows${test.config.limit !== undefined ? ` limit ${test.config.limit}` : ''}`;
    compiled = new Date().toISOString();
    let counted = failing;
    if (test.config.store_failures) {
      const schema = quoteIdentifier(`${auditSchemaOf(test, renv)}_dbt_test__audit`);
      const table = `${schema}.${quoteIdentifier(test.alias)}`;
      for (const sql of [`CREATE SCHEMA IF NOT EXISTS ${schema}`, `CREATE OR REPLACE TABLE ${table} AS\n${failing}`]) {
        statements.push(sql);
        await connection.run(sql);
      }
      counted = `select * from ${table}`;
    }
    const countSql = `select count(*) as failures from (${counted}) as counted`;
    statements.push(countSql);
    const failures = Number((await connection.query(countSql))[0].failures);
    const { status, message } = judge(test, failures);
    return finish({ status, failures, message }, compiled);
  } catch (error) {
    const smelterError = signal.aborted
      ? new InterruptedError('interrupted', { node: test.unique_id })
      : error instanceof SmelterError
        ? error
        : new ExecutionError(firstLine((error as Error).message ?? String(error)), { node: test.unique_id, location: { file: test.original_file_path, line: test.line } });
    return finish({ status: 'error', message: smelterError.format(), error: smelterError }, compiled);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** The schema a test's stored failures go to: its model's (or `main`), plus `_dbt_test__audit`. */
function auditSchemaOf(test: TestNode, renv: RenderEnvironment): string {
  const attached = test.attached_node ? renv.manifest.nodes[test.attached_node] : undefined;
  return attached && attached.resource_type !== 'test' ? attached.relation.schema : 'main';
}

/** severity, error_if and warn_if applied to the failing-row count, as dbt does. */
export function judge(test: Pick<TestNode, 'config'>, failures: number): { status: 'pass' | 'warn' | 'fail'; message?: string } {
  const { severity, error_if, warn_if } = test.config;
  const got = `Got ${failures} ${failures === 1 ? 'result' : 'results'}`;
  if (severity === 'error' && holds(error_if, failures)) return { status: 'fail', message: `${got}, configured to fail if ${error_if.trim()}` };
  if (holds(warn_if, failures)) return { status: 'warn', message: `${got}, configured to warn if ${warn_if.trim()}` };
  return { status: 'pass' };
}

function holds(condition: string, n: number): boolean {
  const match = /^\s*(==|!=|>=|<=|>|<|=)\s*(\d+)\s*$/.exec(condition);
  if (!match) return false;
  const limit = Number(match[2]);
  switch (match[1]) {
    case '==':
    case '=':
      return n === limit;
    case '!=':
      return n !== limit;
    case '>=':
      return n >= limit;
    case '<=':
      return n <= limit;
    case '>':
      return n > limit;
    default:
      return n < limit;
  }
}

function firstLine(message: string): string {
  return message.split('\n')[0];
}
