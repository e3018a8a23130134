import type { Manifest, ModelNode } from '../manifest/types.js';
import type { Dag } from '../graph/dag.js';
import { topologicalOrder } from '../graph/dag.js';
import { windowsBetween } from '../execute/batches.js';

/**
 * `smelter stepfunctions` (SPEC §9): an Amazon States Language definition that runs a selection
 * through the Lambda adapter. Pure: Manifest + selection -> JSON.
 *
 * The selected models are cut into levels (a model's level is one more than its deepest selected
 * ancestor's), run one level after another. `granularity: level` is one invocation per level (the
 * Lambda builds the level's models itself, in parallel threads); `model` is one invocation per
 * model, the models of a level as branches of a Parallel state. A microbatch model with a
 * backfill window gets a Map over its batches. Every invocation retries Transient, ConcurrentRun,
 * Timeout and Lambda's own throttling with backoff, and any other error goes to a Fail state
 * carrying it.
 */
export interface StateMachineOptions {
  readonly functionArn: string;
  readonly granularity: 'level' | 'model';
  /** The Lambda command per invocation (`build`: models with their tests). */
  readonly command?: 'build' | 'run';
  readonly target?: string;
  readonly vars?: Readonly<Record<string, unknown>>;
  readonly fullRefresh?: boolean;
  readonly eventTimeStart?: Date;
  readonly eventTimeEnd?: Date;
  /** Batches of one microbatch model run at once in a Map. */
  readonly maxConcurrency?: number;
}

type State = Record<string, unknown>;

export const RETRIED_ERRORS = ['Transient', 'ConcurrentRun', 'Timeout', 'Lambda.ServiceException', 'Lambda.TooManyRequestsException', 'Lambda.SdkClientException'];
const FAILED = 'Failed';

export function stateMachineFor(manifest: Manifest, dag: Dag, selected: ReadonlySet<string>, options: StateMachineOptions): Record<string, unknown> {
  const models = topologicalOrder(dag).filter((id) => {
    const node = manifest.nodes[id];
    return selected.has(id) && node?.resource_type === 'model' && node.config.materialized !== 'ephemeral';
  });
  const levelOf = new Map<string, number>();
  const ancestorsInSelection = (id: string): string[] => {
    const found: string[] = [];
    const seen = new Set<string>();
    const stack = [...dag.inNeighbors(id)];
    while (stack.length > 0) {
      const p = stack.pop()!;
      if (seen.has(p)) continue;
      seen.add(p);
      if (levelOf.has(p)) found.push(p);
      else stack.push(...dag.inNeighbors(p));
    }
    return found;
  };
  for (const id of models) levelOf.set(id, Math.max(-1, ...ancestorsInSelection(id).map((p) => levelOf.get(p)!)) + 1);
  const levels: string[][] = [];
  for (const id of models) (levels[levelOf.get(id)!] ??= []).push(id);

  const backfill = options.eventTimeStart !== undefined && options.eventTimeEnd !== undefined;
  const event = (select: readonly string[], window?: 'map'): Record<string, unknown> => ({
    command: options.command ?? 'build',
    select,
    ...(options.target ? { target: options.target } : {}),
    ...(options.vars ? { vars: options.vars } : {}),
    ...(options.fullRefresh ? { full_refresh: true } : {}),
    ...(window === 'map' ? { 'event_time_start.$': '$.event_time_start', 'event_time_end.$': '$.event_time_end' } : {}),
  });
  const task = (select: readonly string[], next: string | undefined, window?: 'map'): State => ({
    Type: 'Task',
    Resource: options.functionArn,
    Parameters: event(select, window),
    ResultPath: null,
    Retry: [{ ErrorEquals: RETRIED_ERRORS, IntervalSeconds: 10, BackoffRate: 2, MaxAttempts: 4 }],
    ...(window === 'map' ? {} : { Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: FAILED }] }),
    ...(next ? { Next: next } : { End: true }),
  });
  const isBackfilled = (id: string) => {
    const node = manifest.nodes[id] as ModelNode;
    return backfill && node.config.incremental_strategy === 'microbatch' && node.config.batch_size !== undefined;
  };
  /** One model's step: a Task, or for a backfilled microbatch model a Map over its batches. */
  const modelStep = (id: string, next: string | undefined): State => {
    const node = manifest.nodes[id] as ModelNode;
    if (!isBackfilled(id)) return task([node.name], next);
    const windows = windowsBetween(options.eventTimeStart!, options.eventTimeEnd!, node.config.batch_size!).map((w) => ({ event_time_start: w.start, event_time_end: w.end }));
    return {
      Type: 'Map',
      ItemsPath: '$.batches',
      ItemSelector: { 'event_time_start.$': '$$.Map.Item.Value.event_time_start', 'event_time_end.$': '$$.Map.Item.Value.event_time_end' },
      MaxConcurrency: options.maxConcurrency ?? 4,
      ItemProcessor: { StartAt: 'batch', States: { batch: task([node.name], undefined, 'map') } },
      ResultPath: null,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: FAILED }],
      ...(next ? { Next: next } : { End: true }),
      // The batches travel in the state input: set by the Pass state before the Map.
      __batches: windows,
    };
  };

  const states: Record<string, State> = {};
  const names: string[] = [];
  const levelName = (i: number) => `level_${i + 1}`;
  levels.forEach((ids, i) => {
    const next = i + 1 < levels.length ? levelName(i + 1) : undefined;
    const name = levelName(i);
    names.push(name);
    const backfilled = ids.filter(isBackfilled);
    const plain = ids.filter((id) => !isBackfilled(id));
    if (options.granularity === 'level' && backfilled.length === 0) {
      states[name] = task(plain.map((id) => manifest.nodes[id].name), next);
      return;
    }
    const branchSteps: Array<{ name: string; state: State }> = [];
    if (options.granularity === 'level' && plain.length > 0) branchSteps.push({ name: `${name}_models`, state: task(plain.map((id) => manifest.nodes[id].name), undefined) });
    else for (const id of plain) branchSteps.push({ name: manifest.nodes[id].name, state: modelStep(id, undefined) });
    for (const id of backfilled) branchSteps.push({ name: manifest.nodes[id].name, state: modelStep(id, undefined) });
    states[name] = {
      Type: 'Parallel',
      Branches: branchSteps.map((b) => branch(b.name, b.state)),
      ResultPath: null,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: FAILED }],
      ...(next ? { Next: next } : { End: true }),
    };
  });
  states[FAILED] = { Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' };
  if (names.length === 0) return { Comment: 'smelter: the selection has no models to build', StartAt: 'Nothing', States: { Nothing: { Type: 'Succeed' } } };
  return {
    Comment: `smelter ${options.command ?? 'build'} of ${models.length} model${models.length === 1 ? '' : 's'} in ${levels.length} level${levels.length === 1 ? '' : 's'} (${options.granularity})`,
    StartAt: names[0],
    States: states,
  };
}

/**
 * A Parallel branch for one step. A Map's batches are put in the branch's input by a Pass state
 * first (a branch's input is the state machine's input).
 */
function branch(name: string, state: State): Record<string, unknown> {
  const { __batches: batches, ...rest } = state as State & { __batches?: unknown };
  if (batches === undefined) {
    const { Catch: _catch, ...inner } = rest;
    return { StartAt: name, States: { [name]: inner } };
  }
  const { Catch: _catch, ...map } = rest;
  return { StartAt: `${name}_batches`, States: { [`${name}_batches`]: { Type: 'Pass', Result: batches, ResultPath: '$.batches', Next: name }, [name]: map } };
}
