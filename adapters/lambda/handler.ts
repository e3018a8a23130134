import {
  INDIRECT_SELECTION_MODES,
  LockedError,
  ProjectError,
  Session,
  SmelterError,
  StateError,
  parseSelector,
  traitsOf,
  type IndirectSelection,
  type Materialization,
  type NodeResult,
  type RunResult,
} from '../../runtime/index.js';
import { awsBackends } from '../aws/backends.js';

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
}

/** The error names a state machine's Retry and Catch match (SPEC §9). */
export type FailureName = 'ModelFailed' | 'TestFailed' | 'ProjectError' | 'ConcurrentRun' | 'Transient' | 'Timeout';

/** A failed invocation: `name` for Step Functions, the run summary as JSON in `message`. */
export class InvocationFailure extends Error {
  constructor(
    override readonly name: FailureName,
    readonly summary: Readonly<Record<string, unknown>>,
  ) {
    super(JSON.stringify(summary));
  }
}

const EVENT_FIELDS = ['command', 'select', 'exclude', 'indirect_selection', 'full_refresh', 'vars', 'target', 'event_time_start', 'event_time_end'] as const;
const COMMANDS = ['build', 'run', 'test', 'seed'] as const;

let warm: { projectDir: string; session: Session } | undefined;

/** Lambda's entry point. */
export async function handler(event: unknown, context: LambdaContext = {}): Promise<LambdaResult> {
  let parsed: ReturnType<typeof checkEvent>;
  try {
    parsed = checkEvent(event);
  } catch (error) {
    throw failure(error);
  }
  const projectDir = process.env.SMELTER_PROJECT_DIR ?? process.env.LAMBDA_TASK_ROOT ?? process.cwd();
  if (!warm || warm.projectDir !== projectDir) {
    await warm?.session.close();
    warm = { projectDir, session: new Session({ projectDir, backends: awsBackends }) };
  }
  const { session } = warm;
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
  if (run.results.length === 0 && parsed.select.length > 0) {
    throw new InvocationFailure('ProjectError', { ...summary, error: `the selection matches nothing: ${warnings.join('; ') || parsed.select.join(' ')}` });
  }
  if (run.interrupted) throw new InvocationFailure('Timeout', summary);
  // A model its own tests stopped from publishing (an audit) is a test failure, not a model failure.
  const built = (r: NodeResult) => r.resource_type === 'model' || r.resource_type === 'seed';
  const failedModels = run.results.filter((r) => r.status === 'error' && built(r) && r.error?.code !== 'audit');
  // Models that failed only because another run holds their lease, or because S3 faulted (a
  // `transient` StorageError: throttling, 5xx, resets) may pass on a retry, which Step Functions
  // makes for ConcurrentRun (waiting out the lease) and Transient; any other model error is ModelFailed.
  const leaseHeld = (r: NodeResult) => r.error?.code === 'state' && /another run holds/.test(r.error.message);
  const transient = (r: NodeResult) => r.error?.code === 'storage' && (r.error as { transient?: boolean }).transient === true;
  if (!run.error && failedModels.length > 0 && failedModels.every((r) => leaseHeld(r) || transient(r))) {
    throw new InvocationFailure(failedModels.some(leaseHeld) ? 'ConcurrentRun' : 'Transient', summary);
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
      { target: parsed.target, vars: parsed.vars },
    );
  } catch (error) {
    // The run committed; only reading the watermarks back failed. Retrying finds no new data.
    throw failure(error);
  }
  const watermarks: Record<string, string | null> = {};
  for (const r of stateful) watermarks[stateKeyOf(r)] = records.get(stateKeyOf(r))?.last_processed_value ?? null;
  return { status: 'success', invocation_id: run.invocation_id, results: summary.results as LambdaResult['results'], watermarks };
}

/** Every field checked, none spliced into SQL: selectors are parsed, vars typed by the project. */
function checkEvent(event: unknown) {
  const e = (event ?? {}) as Record<string, unknown>;
  if (typeof e !== 'object' || Array.isArray(e)) throw new ProjectError('the event must be a JSON object');
  const unknown = Object.keys(e).filter((k) => !(EVENT_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new ProjectError(`unknown event field ${unknown.join(', ')} (fields: ${EVENT_FIELDS.join(', ')})`);
  const command = e.command ?? 'build';
  if (!(COMMANDS as readonly unknown[]).includes(command)) throw new ProjectError(`command must be one of ${COMMANDS.join(', ')}, got ${JSON.stringify(command)}`);
  const selectors = (field: 'select' | 'exclude'): string[] => {
    const value = e[field] ?? [];
    if (!Array.isArray(value) || !value.every((s) => typeof s === 'string')) throw new ProjectError(`${field} must be a list of selector strings`);
    for (const s of value) parseSelector(s);
    return value;
  };
  const time = (field: 'event_time_start' | 'event_time_end'): Date | undefined => {
    const value = e[field];
    if (value === undefined || value === null) return undefined;
    const date = typeof value === 'string' ? new Date(value) : undefined;
    if (!date || Number.isNaN(date.getTime())) throw new ProjectError(`${field} must be an ISO date or timestamp, got ${JSON.stringify(value)}`);
    return date;
  };
  const indirect = e.indirect_selection ?? 'eager';
  if (!(INDIRECT_SELECTION_MODES as readonly unknown[]).includes(indirect)) {
    throw new ProjectError(`indirect_selection must be one of ${INDIRECT_SELECTION_MODES.join(', ')}, got ${JSON.stringify(e.indirect_selection)}`);
  }
  if (e.full_refresh !== undefined && typeof e.full_refresh !== 'boolean') throw new ProjectError('full_refresh must be true or false');
  if (e.vars !== undefined && (e.vars === null || typeof e.vars !== 'object' || Array.isArray(e.vars))) throw new ProjectError('vars must be a mapping');
  if (e.target !== undefined && typeof e.target !== 'string') throw new ProjectError('target must be a string');
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

function summarize(run: RunResult, warnings: readonly string[]) {
  return {
    invocation_id: run.invocation_id,
    results: run.results.map((r) => ({ unique_id: r.unique_id, status: r.status, rows: r.rows ?? r.failures ?? null, seconds: Number(r.seconds.toFixed(3)), ...(r.message ? { message: r.message } : {}) })),
    ...(run.error ? { error: run.error.format() } : {}),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

/** An error before or around a run (nothing ran, or the run could not start), named for Step Functions. */
function failure(error: unknown): InvocationFailure {
  const summary = { error: error instanceof SmelterError ? error.format() : String((error as Error)?.message ?? error) };
  if (error instanceof LockedError || (error instanceof StateError && /another run holds/.test(error.message))) return new InvocationFailure('ConcurrentRun', summary);
  if (error instanceof SmelterError && error.exitCode === 2) return new InvocationFailure('ProjectError', summary);
  return new InvocationFailure('Transient', summary);
}
