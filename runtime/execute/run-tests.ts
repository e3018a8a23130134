import { ExecutionError, InterruptedError, SmelterError } from '../errors.js';
import type { EngineConnection } from '../engine/engine.js';
import type { TestNode } from '../manifest/types.js';
import { quoteIdentifier } from '../render/relation.js';
import { renderTestQuery } from '../render/test-sql.js';
import { databaseOn } from './database-access.js';
import type { RenderEnvironment } from '../render/render-model.js';
import type { NodeResult } from './results.js';

/**
 * One data test: its query counted, and judged by its severity and its warn_if/error_if thresholds
 * (SPEC §6). A test passes when its query returns no rows. Tests only read, except
 * `store_failures`, which keeps the failing rows in `<schema>_dbt_test__audit`. The executor
 * (run-plan.ts) schedules tests with models, or runs them as a model's audit.
 */

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
    const database = databaseOn(connection);
    const query = await database.render(test.name, () => renderTestQuery(test, { ...renv, database }), signal);
    statements.push(...database.executed);
    const failing = `select * from (
${query.sql.trim().replace(/;+$/, '')}
) as test_rows${test.config.limit !== undefined ? ` limit ${test.config.limit}` : ''}`;
    compiled = new Date().toISOString();
    let counted = failing;
    if (test.config.store_failures) {
      const schema = quoteIdentifier(auditSchemaOf(test, renv));
      const relation = `${schema}.${quoteIdentifier(test.config.alias ?? test.alias)}`;
      const kind = test.config.store_failures_as === 'view' ? 'VIEW' : 'TABLE';
      for (const sql of [`CREATE SCHEMA IF NOT EXISTS ${schema}`, `CREATE OR REPLACE ${kind} ${relation} AS\n${failing}`]) {
        statements.push(sql);
        await connection.run(sql);
      }
      counted = `select * from ${relation}`;
    }
    // dbt's test query: fail_calc over the failing rows, judged by warn_if and error_if in SQL.
    const failCalc = test.config.fail_calc ?? (typeof query.config.fail_calc === 'string' ? query.config.fail_calc : 'count(*)');
    const countSql =
      `select ${failCalc} as failures, ${failCalc} ${test.config.warn_if} as should_warn, ${failCalc} ${test.config.error_if} as should_error\n` +
      `from (${counted}) as dbt_internal_test`;
    statements.push(countSql);
    const row = (await connection.query(countSql))[0];
    const failures = row.failures === null || row.failures === undefined ? 0 : Number(row.failures);
    const { status, message } = judgeFlags(test, failures, row.should_warn === true, row.should_error === true);
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

/**
 * The schema a test's stored failures go to, as dbt names it: the target's schema and the test's
 * `schema` config, or `dbt_test__audit` (`analytics_dbt_test__audit`).
 */
export function auditSchemaOf(test: TestNode, renv: RenderEnvironment): string {
  return `${renv.project.config.target.schema}_${test.config.schema ?? 'dbt_test__audit'}`;
}

/** dbt's verdict from the query's own should_warn/should_error: fail only at severity error. */
export function judgeFlags(test: Pick<TestNode, 'config'>, failures: number, shouldWarn: boolean, shouldError: boolean): { status: 'pass' | 'warn' | 'fail'; message?: string } {
  const { severity, error_if, warn_if } = test.config;
  const got = `Got ${failures} ${failures === 1 ? 'result' : 'results'}`;
  if (severity === 'error' && shouldError) return { status: 'fail', message: `${got}, configured to fail if ${error_if.trim()}` };
  if (shouldWarn) return { status: 'warn', message: `${got}, configured to warn if ${warn_if.trim()}` };
  return { status: 'pass' };
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
