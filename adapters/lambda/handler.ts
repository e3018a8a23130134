import {
  INDIRECT_SELECTION_MODES,
  LockedError,
  ProjectError,
  Session,
  SmelterError,
  StateError,
  StorageError,
  isLeaseHeld,
  isLeaseLost,
  isStaleWrite,
  parseSelector,
  traitsOf,
  type IndirectSelection,
  type Materialization,
  type NodeResult,
  type RunResult,
} from '../../runtime/index.js';
import { awsBackends } from '../aws/backends.js';
import { boundJson, boundText, capBytes } from '../../runtime/util/bounded-text.js';
import { ofType } from '../../runtime/project/var-types.js';
import { parseUtcTime } from '../../runtime/util/utc-time.js';

/**
 * The AWS Lambda adapter (SPEC §9): `handler(event, context)` runs one command of the bundled
 * project and returns its results, or throws an error whose `name` a Step Functions state machine
 * can match. The parsed project and the DuckDB instance live in a `Session` kept across warm
 * invocations. Not responsible for where data lives: the target (S3 storage, DynamoDB state) says.
 */

export interface LambdaEvent {
  readonly command?: 'build' | 'run' | 'test' | 'seed';
  readonly select?: readonly string[];
  readonly exclude?: readonly string[];
  /** Which tests the selected models bring with them, as dbt's --indirect-selection (default eager). */
  readonly indirect_selection?: IndirectSelection;
  readonly full_refresh?: boolean;
  readonly vars?: Readonly<Record<string, unknown>>;
  readonly target?: string;
  readonly event_time_start?: string | null;
  readonly event_time_end?: string | null;
}

/** The part of Lambda's context object the handler uses. */
export interface LambdaContext {
  getRemainingTimeInMillis?(): number;
}

export interface LambdaResult {
  readonly status: 'success';
  readonly invocation_id: string;
  readonly results: ReadonlyArray<{ readonly unique_id: string; readonly status: NodeResult['status']; readonly rows: number | null; readonly seconds: number }>;
  /** Each run incremental model's committed watermark, by `schema.name`. */
  readonly watermarks: Readonly<Record<string, string | null>>;
  /** What the run warned about (an exclude that matched nothing, a kept scd2 history), when anything. */
  readonly warnings?: readonly string[];
}

/** The error names a state machine's Retry and Catch match (SPEC §9). */
export type FailureName = 'ModelFailed' | 'TestFailed' | 'ProjectError' | 'ConcurrentRun' | 'Transient' | 'Timeout';

/**
 * A failed invocation: `name` for Step Functions, the run summary as JSON in `message`. The message
 * stays under FAILURE_LIMIT_BYTES, and the stack repeats 500 characters of it at most: Lambda's error response
 * carries both, and Step Functions takes 256 KB at most.
 */
export class InvocationFailure extends Error {
  readonly summary: Readonly<Record<string, unknown>>;
  constructor(
    override readonly name: FailureName,
    summary: Readonly<Record<string, unknown>>,
  ) {
    const bounded = boundSummary(summary);
    super(JSON.stringify(bounded));
    this.summary = bounded;
    const frames = (this.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
    this.stack = [`${name}: ${boundText(this.message, 500)}`, ...frames].join('\n');
  }
}

/** The largest failure message (UTF-8 bytes): with the stack's frames, well under Step Functions' 256 KB. */
export const FAILURE_LIMIT_BYTES = 160 * 1024;

/**
 * The summary cut to fit FAILURE_LIMIT_BYTES: long strings first (the error, each warning and
 * result message), then results past what fits, counted in `results_omitted`. Stays valid JSON.
 */
function boundSummary(summary: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const size = (value: unknown) => Buffer.byteLength(JSON.stringify(value));
  if (size(summary) <= FAILURE_LIMIT_BYTES) return { ...summary };
  const out: Record<string, unknown> = { ...summary };
  if (typeof out.error === 'string') out.error = capBytes(out.error, 32 * 1024);
  if (Array.isArray(out.warnings)) out.warnings = boundList(out.warnings.map((w) => capBytes(String(w), 2048)), 'warnings_omitted', out);
  if (Array.isArray(out.results)) {
    const results = (out.results as Array<Record<string, unknown>>).map((r) => (typeof r.message === 'string' ? { ...r, message: capBytes(r.message, 2048) } : r));
    out.results = results;
    while (size(out) > FAILURE_LIMIT_BYTES && (out.results as unknown[]).length > 0) {
      const keep = Math.floor((out.results as unknown[]).length / 2);
      out.results_omitted = results.length - keep;
      out.results = results.slice(0, keep);
    }
  }
  return out;
}

function boundList(list: string[], countKey: string, out: Record<string, unknown>): string[] {
  if (list.length <= 20) return list;
  out[countKey] = list.length - 20;
  return list.slice(0, 20);
}

const EVENT_FIELDS = ['command', 'select', 'exclude', 'indirect_selection', 'full_refresh', 'vars', 'target', 'event_time_start', 'event_time_end'] as const;
const COMMANDS = ['build', 'run', 'test', 'seed'] as const;

/**
 * The warm session, set in the same tick as it is asked for: two invocations that arrive together
 * in a cold process share one Session (and one DuckDB instance) instead of racing to make two.
 */
let warm: { projectDir: string; session: Promise<Session> } | undefined;

function warmSession(projectDir: string): Promise<Session> {
  if (warm === undefined || warm.projectDir !== projectDir) {
    const previous = warm?.session;
    const session = (async () => {
      // A different project directory (tests): the old session's database is closed first.
      await (await previous?.catch(() => undefined))?.close();
      sessionsCreated++;
      return new Session({ projectDir, backends: awsBackends });
    })();
    warm = { projectDir, session };
  }
  return warm.session;
}

/** How many Sessions this process made (tests check that concurrent cold invocations make one). */
export let sessionsCreated = 0;

/** Lambda's entry point. */
export async function handler(event: unknown, context: LambdaContext = {}): Promise<LambdaResult> {
  let parsed: ReturnType<typeof checkEvent>;
  try {
    parsed = checkEvent(event);
  } catch (error) {
    throw failure(error);
  }
  const projectDir = process.env.SMELTER_PROJECT_DIR ?? process.env.LAMBDA_TASK_ROOT ?? process.cwd();
  const session = await warmSession(projectDir);
  // Stop before Lambda's deadline: interrupted models roll back and commit nothing.
  const controller = new AbortController();
  const remaining = context.getRemainingTimeInMillis?.();
  const timer = remaining === undefined ? undefined : setTimeout(() => controller.abort(), Math.max(0, remaining - Math.min(10_000, remaining * 0.2)));
  let run: RunResult;
  const warnings: string[] = [];
  try {
    ({ run } = await session.run(parsed.command, {
      select: parsed.select,
      exclude: parsed.exclude,
      indirectSelection: parsed.indirect_selection,
      fullRefresh: parsed.full_refresh,
      vars: parsed.vars,
      from: 'event',
      unmatchedSelectorIsError: true,
      target: parsed.target,
      eventTimeStart: parsed.eventTimeStart,
      eventTimeEnd: parsed.eventTimeEnd,
      signal: controller.signal,
      onWarning: (w) => warnings.push(w),
    }));
  } catch (error) {
    throw failure(error);
  } finally {
    if (timer) clearTimeout(timer);
  }
  const summary = summarize(run, warnings);
  // Every selector matched a node (the session checked), but none of them is of a type this command runs.
  if (run.results.length === 0 && parsed.select.length > 0) {
    throw new InvocationFailure('ProjectError', { ...summary, error: `the selection holds nothing ${parsed.command} runs: ${boundText(parsed.select.join(' '))}` });
  }
  if (run.interrupted) throw new InvocationFailure('Timeout', summary);
  // A model its own tests stopped from publishing (an audit) is a test failure, not a model failure.
  const built = (r: NodeResult) => r.resource_type === 'model' || r.resource_type === 'seed';
  const failedModels = run.results.filter((r) => r.status === 'error' && built(r) && r.error?.code !== 'audit');
  // A run whose every failure another run caused (it holds, took or committed a model first) or an
  // S3 or DynamoDB fault that may pass (throttling, 5xx, resets) may pass on a retry, which Step
  // Functions makes for ConcurrentRun (waiting the other run out) and Transient; any other is ModelFailed.
  const faults = [...(run.error ? [run.error] : []), ...failedModels.map((r) => r.error)];
  if (faults.length > 0 && faults.every((e) => byAnotherRun(e) || isTransient(e))) {
    throw new InvocationFailure(faults.some(byAnotherRun) ? 'ConcurrentRun' : 'Transient', summary);
  }
  if (run.error || failedModels.length > 0) throw new InvocationFailure('ModelFailed', summary);
  if (run.results.some((r) => r.status === 'fail' || r.status === 'error')) throw new InvocationFailure('TestFailed', summary);
  const stateful = run.results.filter((r) => r.status === 'success' && r.resource_type === 'model' && traitsOf(r.kind as Materialization).incremental);
  // State is keyed by `schema.name` (SPEC §5); a result's relation is `schema.alias`.
  const stateKeyOf = (r: NodeResult) => `${r.relation.slice(0, r.relation.indexOf('.'))}.${r.name}`;
  let records: Awaited<ReturnType<Session['state']>>;
  try {
    records = await session.state(
      stateful.map(stateKeyOf),
      { target: parsed.target, vars: parsed.vars, from: 'event' },
    );
  } catch (error) {
    // The run committed; only reading the watermarks back failed. Retrying finds no new data.
    throw failure(error);
  }
  const watermarks: Record<string, string | null> = {};
  for (const r of stateful) watermarks[stateKeyOf(r)] = records.get(stateKeyOf(r))?.last_processed_value ?? null;
  return {
    status: 'success',
    invocation_id: run.invocation_id,
    results: summary.results as LambdaResult['results'],
    watermarks,
    ...(summary.warnings ? { warnings: summary.warnings } : {}),
  };
}

/**
 * Every field checked, none spliced into SQL: selectors are parsed, vars typed by the project (an
 * event may set only typed vars), times are ISO dates or timestamps. Input echoed in a message is cut.
 */
function checkEvent(event: unknown) {
  if (event !== undefined && event !== null && (typeof event !== 'object' || Array.isArray(event))) {
    throw new ProjectError(`the event must be a JSON object, got ${boundJson(event)}`);
  }
  const e = (event ?? {}) as Record<string, unknown>;
  const unknown = Object.keys(e).filter((k) => !(EVENT_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    const named = unknown.slice(0, 5).map((k) => boundJson(k, 60)).join(', ') + (unknown.length > 5 ? ` and ${unknown.length - 5} more` : '');
    throw new ProjectError(`unknown event field ${named} (fields: ${EVENT_FIELDS.join(', ')})`);
  }
  const command = e.command ?? 'build';
  if (!(COMMANDS as readonly unknown[]).includes(command)) throw new ProjectError(`command must be one of ${COMMANDS.join(', ')}, got ${boundJson(command)}`);
  const selectors = (field: 'select' | 'exclude'): string[] => {
    const value = e[field] ?? [];
    if (!Array.isArray(value) || !value.every((s) => typeof s === 'string')) throw new ProjectError(`${field} must be a list of selector strings, got ${boundJson(value)}`);
    for (const s of value) {
      if (!isWellFormed(s)) throw new ProjectError(`${field}: ${boundJson(s)} is not valid UTF-8 (it holds half a surrogate pair)`);
      parseSelector(s);
    }
    return value;
  };
  const time = (field: 'event_time_start' | 'event_time_end'): Date | undefined => {
    const value = e[field];
    if (value === undefined || value === null) return undefined;
    // Checked as a date or timestamp var is; a date is midnight UTC, a timestamp without an offset UTC too.
    const iso = typeof value === 'string' && (ofType('date', value) || ofType('timestamp', value));
    const date = iso ? parseUtcTime(value) : undefined;
    if (!date || Number.isNaN(date.getTime())) throw new ProjectError(`${field} must be an ISO date or timestamp (2024-06-01, 2024-06-01T12:00:00Z), got ${boundJson(value)}`);
    return date;
  };
  const indirect = e.indirect_selection ?? 'eager';
  if (!(INDIRECT_SELECTION_MODES as readonly unknown[]).includes(indirect)) {
    throw new ProjectError(`indirect_selection must be one of ${INDIRECT_SELECTION_MODES.join(', ')}, got ${boundJson(e.indirect_selection)}`);
  }
  if (e.full_refresh !== undefined && typeof e.full_refresh !== 'boolean') throw new ProjectError(`full_refresh must be true or false, got ${boundJson(e.full_refresh)}`);
  if (e.vars !== undefined && (e.vars === null || typeof e.vars !== 'object' || Array.isArray(e.vars))) throw new ProjectError(`vars must be a mapping, got ${boundJson(e.vars)}`);
  if (e.target !== undefined && typeof e.target !== 'string') throw new ProjectError(`target must be a string, got ${boundJson(e.target)}`);
  return {
    command: command as (typeof COMMANDS)[number],
    select: selectors('select'),
    exclude: selectors('exclude'),
    indirect_selection: indirect as IndirectSelection,
    full_refresh: e.full_refresh as boolean | undefined,
    vars: e.vars as Record<string, unknown> | undefined,
    target: (e.target as string | undefined) ?? process.env.SMELTER_TARGET ?? 'aws',
    eventTimeStart: time('event_time_start'),
    eventTimeEnd: time('event_time_end'),
  };
}


/** False for a string holding half a surrogate pair: it has no UTF-8 encoding. */
function isWellFormed(text: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

function summarize(run: RunResult, warnings: readonly string[]) {
  return {
    invocation_id: run.invocation_id,
    results: run.results.map((r) => ({ unique_id: r.unique_id, status: r.status, rows: r.rows ?? r.failures ?? null, seconds: Number(r.seconds.toFixed(3)), ...(r.message ? { message: r.message } : {}) })),
    ...(run.error ? { error: run.error.format() } : {}),
    ...(warnings.length > 0 ? { warnings: warnings.map((w) => boundText(w, 2000)) } : {}),
  };
}

/** An error before or around a run (nothing ran, or the run could not start), named for Step Functions. */
function failure(error: unknown): InvocationFailure {
  const summary = { error: error instanceof SmelterError ? error.format() : capBytes(String((error as Error)?.message ?? error)) };
  if (byAnotherRun(error)) return new InvocationFailure('ConcurrentRun', summary);
  if (error instanceof SmelterError) {
    if (error.exitCode === 2) return new InvocationFailure('ProjectError', summary);
    // Damaged state or files, a missing table, a refused adoption: a retry would fail the same way.
    return new InvocationFailure(isTransient(error) ? 'Transient' : 'ModelFailed', summary);
  }
  // Nothing smelter recognises (a fault of the runtime or the sandbox, not classified): nothing was
  // committed, so a retry is safe and may pass; Step Functions gives up after its attempts.
  return new InvocationFailure('Transient', summary);
}

/** Another run holds the database or the model's lease, took the lease over, or committed the model first. */
function byAnotherRun(error: unknown): boolean {
  return error instanceof LockedError || isLeaseHeld(error) || isLeaseLost(error) || isStaleWrite(error);
}

/** An S3 or DynamoDB fault that may pass on a later attempt (the adapters mark them). */
function isTransient(error: unknown): boolean {
  return (error instanceof StorageError || error instanceof StateError) && error.transient;
}
