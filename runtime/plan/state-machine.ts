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
  const catchAll = { Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: FAILED }] };
  const ending = (next: string | undefined) => (next ? { Next: next } : { End: true });
  /** An invocation. Only a top-level state catches: inside a branch or a Map, the enclosing state does. */
  const task = (select: readonly string[], place: { top: string | undefined } | 'branch' | 'map'): State => ({
    Type: 'Task',
    Resource: options.functionArn,
    Parameters: event(select, place === 'map' ? 'map' : undefined),
    ResultPath: null,
    Retry: [{ ErrorEquals: RETRIED_ERRORS, IntervalSeconds: 10, BackoffRate: 2, MaxAttempts: 4 }],
    ...(typeof place === 'object' ? { ...catchAll, ...ending(place.top) } : { End: true }),
  });
  const isBackfilled = (id: string) => {
    const node = manifest.nodes[id] as ModelNode;
    return backfill && node.config.incremental_strategy === 'microbatch' && node.config.batch_size !== undefined;
  };
  const single = (name: string, state: State) => ({ StartAt: name, States: { [name]: state } });
  /**
   * One model as a Parallel branch: a Task, or for a backfilled microbatch model a Map over its
   * batches, which a Pass state puts in the branch's input first.
   */
  const modelBranch = (id: string): Record<string, unknown> => {
    const node = manifest.nodes[id] as ModelNode;
    if (!isBackfilled(id)) return single(node.name, task([node.name], 'branch'));
    const batches = windowsBetween(options.eventTimeStart!, options.eventTimeEnd!, node.config.batch_size!).map((w) => ({ event_time_start: w.start, event_time_end: w.end }));
    return {
      StartAt: `${node.name}_batches`,
      States: {
        [`${node.name}_batches`]: { Type: 'Pass', Result: batches, ResultPath: '$.batches', Next: node.name },
        [node.name]: {
          Type: 'Map',
          ItemsPath: '$.batches',
          ItemSelector: { 'event_time_start.$': '$$.Map.Item.Value.event_time_start', 'event_time_end.$': '$$.Map.Item.Value.event_time_end' },
          MaxConcurrency: options.maxConcurrency ?? 4,
          ItemProcessor: single('batch', task([node.name], 'map')),
          ResultPath: null,
          End: true,
        },
      },
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
    const plain = ids.filter((id) => !isBackfilled(id)).map((id) => manifest.nodes[id].name);
    if (options.granularity === 'level' && backfilled.length === 0) {
      states[name] = task(plain, { top: next });
      return;
    }
    const branches =
      options.granularity === 'level'
        ? [...(plain.length > 0 ? [single(`${name}_models`, task(plain, 'branch'))] : []), ...backfilled.map(modelBranch)]
        : ids.map(modelBranch);
    states[name] = { Type: 'Parallel', Branches: branches, ResultPath: null, ...catchAll, ...ending(next) };
  });
  states[FAILED] = { Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' };
  if (names.length === 0) return { Comment: 'smelter: the selection has no models to build', StartAt: 'Nothing', States: { Nothing: { Type: 'Succeed' } } };
  return {
    Comment: `smelter ${options.command ?? 'build'} of ${models.length} model${models.length === 1 ? '' : 's'} in ${levels.length} level${levels.length === 1 ? '' : 's'} (${options.granularity})`,
    StartAt: names[0],
    States: states,
  };
}
