import { selectNodes, topologicalOrder, UsageError, windowsBetween, type Dag, type IndirectSelection, type Manifest, type ManifestNode, type ModelNode } from '../../runtime/index.js';

/**
 * `smelter stepfunctions` (SPEC §9): an Amazon States Language definition that runs a selection
 * through the Lambda adapter. Pure: Manifest + DAG + selection -> JSON.
 *
 * The selected models are cut into levels (a model's level is one more than its deepest selected
 * ancestor's), run one level after another. `granularity: level` is one invocation per level (the
 * Lambda builds the level's models itself, in parallel threads); `model` is one invocation per
 * model, the models of a level as branches of a Parallel state. A microbatch model with a
 * backfill window is a branch of its own: a Map over its batches, each item one invocation with
 * its window; with `--full-refresh`, the first batch runs alone before the Map, the only
 * invocation that full-refreshes (a full-refreshing batch replaces the whole model: in the Map it
 * would wipe the other items' rows). Every invocation retries Transient, Timeout and Lambda's own
 * throttling with backoff, and ConcurrentRun (a model another run holds the lease of) for longer
 * than the target's `state.lease_seconds`, so a lease a crashed run left expires before the
 * retries run out; any other error goes to a Fail state carrying it.
 *
 * Tests (command `build`). A test runs in the Task that builds the last of its parents — for a
 * backfilled model, in a Task after its batches, once (its unit tests in one before them) — never
 * earlier: on the first run on an empty bucket its other parents do not exist yet, and on later
 * runs it would check yesterday's data of a parent this run rebuilds later. Each Task's event
 * selects its models with `indirect_selection: cautious`, so the Lambda adds exactly the tests
 * whose parents are all among those models, and names, besides, the tests whose other parents
 * earlier levels built. Cautious rather than buildable: buildable would also add a test whose
 * other parent is merely an ancestor of the Task's models — one this state machine does not build
 * (so it is stale, or not there at all) — and would still miss a test whose other parent an
 * earlier level built without being an ancestor; cautious adds only what is certainly built, and
 * the names say the rest. Eager (dbt's default) is what ran a fact's relationships test in the
 * level of the dimension, before the fact existed.
 *
 * Which tests: those of the selection (`--indirect-selection` applies to it as to `build`), and of
 * those only the ones whose parents the state machine builds — a source counts as built (it is read
 * as it is); a test reading a model or seed outside the selection is run by no Task. A test whose
 * last parents are built by different Tasks of one level (branches with `granularity: model`, or a
 * backfill's Map beside the level's models) gets a Task of its own after that level, selecting it
 * by name with `indirect_selection: empty`. Each event is checked with the runtime's own selector
 * on the same manifest: a test it would bring that its Task must not run (one the selection left
 * out, by `--indirect-selection` or `--exclude`; a unit test, which its model's name also matches)
 * is excluded by name, and the Task says `empty` instead of `cautious` when that takes fewer names.
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
  /** The Lambda's target's `state.lease_seconds` (default DEFAULT_LEASE_SECONDS): ConcurrentRun is retried for longer. */
  readonly leaseSeconds?: number;
}

type State = Record<string, unknown>;

/** The DynamoDB state backend's lease when the target sets none (its DEFAULT_LEASE_SECONDS; a unit test keeps them equal). */
export const DEFAULT_LEASE_SECONDS = 900;
/** Retried with a short backoff: a fault of the invocation, not of the data. */
export const RETRIED_ERRORS = ['Transient', 'Timeout', 'Lambda.ServiceException', 'Lambda.TooManyRequestsException', 'Lambda.SdkClientException'];
const FAILED = 'Failed';
/** Amazon States Language's longest state name. */
const MAX_STATE_NAME = 80;

/**
 * The Retry entry for ConcurrentRun: doubling waits whose sum passes `leaseSeconds`, so the last
 * attempt comes after any lease held when the first failed has expired.
 */
export function concurrentRunRetry(leaseSeconds: number): { ErrorEquals: string[]; IntervalSeconds: number; BackoffRate: number; MaxAttempts: number } {
  if (!(Number.isFinite(leaseSeconds) && leaseSeconds > 0)) throw new Error(`lease seconds must be a positive number, got ${leaseSeconds}`);
  const interval = Math.min(30, Math.max(1, Math.ceil(leaseSeconds / 10)));
  let attempts = 1;
  while (interval * (2 ** attempts - 1) <= leaseSeconds) attempts++;
  return { ErrorEquals: ['ConcurrentRun'], IntervalSeconds: interval, BackoffRate: 2, MaxAttempts: attempts };
}

/** One invocation's work: models of one level, built by one Task (or by a Map over batches), and the tests it runs. */
interface Unit {
  readonly models: string[];
  readonly backfill: boolean;
  readonly tests: string[];
}

/** A backfill invocation's event time, as the Lambda's event takes it. */
interface Window {
  readonly start: string;
  readonly end: string;
}

/** An invocation's `select`, `exclude` and `indirect_selection` (none for `run`). */
interface Selection {
  readonly select: string[];
  readonly exclude: string[];
  readonly indirect?: IndirectSelection;
}

/** The indirect selections a models' invocation may say; cautious when both fit as well. */
const MODES: readonly IndirectSelection[] = ['cautious', 'empty'];

/** The nodes a test reads: a data test's depends_on, a unit test's model. */
function parentsOf(node: ManifestNode): readonly string[] {
  return node.resource_type === 'unit_test' ? [node.model] : node.depends_on.nodes;
}

const isTest = (node: ManifestNode | undefined) => node?.resource_type === 'test' || node?.resource_type === 'unit_test';

/**
 * The definition that builds the models of `selected` and runs its tests (see the module header).
 * `selected` is a selection as `build` would run it: models, and tests with their indirect selection.
 */
export function stateMachineFor(manifest: Manifest, dag: Dag, selected: ReadonlySet<string>, options: StateMachineOptions): Record<string, unknown> {
  const command = options.command ?? 'build';
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
  for (const level of levels) level.sort((x, y) => manifest.nodes[x].name.localeCompare(manifest.nodes[y].name));

  // `build` given one bound runs to now (or from the model's begin); a definition is written once
  // and run later, so its batch windows must not depend on when it was written.
  if ((options.eventTimeStart === undefined) !== (options.eventTimeEnd === undefined)) {
    throw new UsageError(
      `${options.eventTimeStart === undefined ? '--event-time-end' : '--event-time-start'} needs ${options.eventTimeStart === undefined ? '--event-time-start' : '--event-time-end'}: a backfill state machine's batches are fixed when its definition is written`,
    );
  }
  const backfilling = options.eventTimeStart !== undefined && options.eventTimeEnd !== undefined;
  // As `build` refuses it: an empty range would build no batch and succeed.
  if (backfilling && options.eventTimeStart!.getTime() >= options.eventTimeEnd!.getTime()) {
    throw new UsageError(`--event-time-start (${options.eventTimeStart!.toISOString()}) must be before --event-time-end (${options.eventTimeEnd!.toISOString()})`);
  }
  const isBackfilled = (id: string) => {
    const node = manifest.nodes[id] as ModelNode;
    return backfilling && node.config.incremental_strategy === 'microbatch' && node.config.batch_size !== undefined;
  };

  // Each level's invocations, and which one builds each model.
  const unitOf = new Map<string, Unit>();
  const unitsOf: Unit[][] = levels.map((ids) => {
    const plain = ids.filter((id) => !isBackfilled(id));
    const groups =
      options.granularity === 'model'
        ? ids.map((id) => [id])
        : [...(plain.length > 0 ? [plain] : []), ...ids.filter(isBackfilled).map((id) => [id])];
    return groups.map((group) => {
      const unit: Unit = { models: group, backfill: isBackfilled(group[0]), tests: [] };
      for (const id of group) unitOf.set(id, unit);
      return unit;
    });
  });

  // Each selected test goes to the invocation that builds the last of its parents, or after the
  // level when several invocations of that level build its last parents.
  const isSource = (id: string) => manifest.nodes[id]?.resource_type === 'source';
  const afterLevel: string[][] = levels.map(() => []);
  let testCount = 0;
  if (command === 'build') {
    for (const id of [...selected].sort()) {
      const node = manifest.nodes[id];
      if (!isTest(node)) continue;
      const built = parentsOf(node).filter((p) => !isSource(p));
      if (built.length === 0 || !built.every((p) => levelOf.has(p))) continue;
      const last = Math.max(...built.map((p) => levelOf.get(p)!));
      const lastUnits = new Set(built.filter((p) => levelOf.get(p) === last).map((p) => unitOf.get(p)!));
      if (lastUnits.size === 1) [...lastUnits][0].tests.push(id);
      else afterLevel[last].push(id);
      testCount++;
    }
  }
  const nameOf = (id: string) => manifest.nodes[id].name;
  /** The tests the Lambda's `build` runs for an event: its selector, on the same manifest. */
  const testsRun = (select: readonly string[], exclude: readonly string[], indirectSelection: IndirectSelection) =>
    select.length === 0 ? [] : [...selectNodes(manifest, dag, { select, exclude, indirectSelection, resourceTypes: ['test', 'unit_test'] }).selected];
  /**
   * An invocation's event selection: its models by name; the tests indirect selection does not
   * bring, by name; the ones it brings that this invocation must not run (a test the selection
   * left out; a unit test, which a model's name also matches), excluded by name. `cautious` for
   * the models' invocations unless `empty` needs fewer names; `empty` for a test's own.
   */
  const selectionOf = (models: readonly string[], tests: readonly string[], modes: readonly IndirectSelection[]): Selection => {
    const select = models.map(nameOf);
    if (command !== 'build') return { select, exclude: [] };
    const candidates = modes.map((indirect): Selection => {
      const brought = testsRun(select, [], indirect);
      const named = [...select, ...tests.filter((t) => !brought.includes(t)).map(nameOf)];
      const exclude = testsRun(named, [], indirect).filter((t) => !tests.includes(t)).map(nameOf).sort();
      return { select: named, exclude, indirect };
    });
    const size = (c: Selection) => c.select.length + c.exclude.length;
    return candidates.reduce((best, c) => (size(c) < size(best) ? c : best));
  };

  /**
   * An invocation's event. `fullRefresh` is the option's unless a backfill says otherwise (see
   * branch); `window` is the event time of a backfill's invocation: fixed, or a Map item's.
   */
  const event = ({ select, exclude, indirect }: Selection, { fullRefresh = options.fullRefresh, window }: { fullRefresh?: boolean; window?: Window | 'item' } = {}): Record<string, unknown> => ({
    command,
    select,
    ...(exclude.length > 0 ? { exclude } : {}),
    ...(indirect ? { indirect_selection: indirect } : {}),
    ...(options.target ? { target: options.target } : {}),
    ...(options.vars ? { vars: options.vars } : {}),
    ...(fullRefresh ? { full_refresh: true } : {}),
    ...(window === 'item'
      ? { 'event_time_start.$': '$.event_time_start', 'event_time_end.$': '$.event_time_end' }
      : window
        ? { event_time_start: window.start, event_time_end: window.end }
        : {}),
  });
  const used = new Set<string>([FAILED]);
  /** State names are unique in the whole state machine and at most 80 characters. */
  const unique = (base: string): string => {
    let name = base.slice(0, MAX_STATE_NAME);
    for (let n = 2; used.has(name); n++) name = `${base.slice(0, MAX_STATE_NAME - String(n).length - 1)}_${n}`;
    used.add(name);
    return name;
  };
  const retry = [concurrentRunRetry(options.leaseSeconds ?? DEFAULT_LEASE_SECONDS), { ErrorEquals: RETRIED_ERRORS, IntervalSeconds: 10, BackoffRate: 2, MaxAttempts: 4 }];
  const catchAll = { Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: FAILED }] };
  /** An invocation. Only a top-level state catches (and goes on): inside a branch or a Map, the enclosing state does. */
  const task = (parameters: Record<string, unknown>, top: boolean): State => ({
    Type: 'Task',
    Resource: options.functionArn,
    Parameters: parameters,
    ResultPath: null,
    Retry: retry,
    ...(top ? catchAll : {}),
  });
  /** States run one after another: each gets Next, the last End. */
  const sequence = (states: ReadonlyArray<[string, State]>): { StartAt: string; States: Record<string, State> } => ({
    StartAt: states[0][0],
    States: Object.fromEntries(states.map(([name, state], i) => [name, { ...state, ...(i + 1 < states.length ? { Next: states[i + 1][0] } : { End: true }) }])),
  });
  /**
   * One invocation as a Parallel branch: a Task; for a backfilled microbatch model, its batches
   * (see backfill).
   */
  const branch = (unit: Unit, name: string): Record<string, unknown> =>
    sequence(unit.backfill ? backfill(unit, name) : [[unique(name), task(event(selectionOf(unit.models, unit.tests, MODES)), false)]]);
  /**
   * A backfilled microbatch model's states, in order. The batches build the model alone: a test
   * run with a batch would check a model other batches are still filling, as many times as there
   * are batches. Its unit tests run before them (they read fixtures, not the model; a failure stops
   * the build, as in `build`), its data tests once after them, each in a Task selecting them by
   * name.
   *
   * The batches: a Map over them, whose items a Pass state puts in the branch's input first. An
   * invocation given a window and `full_refresh` replaces the whole model with that window's rows
   * (build-microbatch.ts: the first batch of a full-refreshing run drops the table or commits a
   * file set that replaces every committed file, and restarts the record's batches); a Map item
   * with it would wipe what the other items committed. So `--full-refresh` runs the first batch
   * alone with it, then the Map over the others without it (they add their windows, as later
   * batches of one run do). A model whose config says `full_refresh: true` full-refreshes in every
   * invocation whatever the event says: its whole window is one invocation, which builds the first
   * batch replacing the model and the others onto it.
   */
  const backfill = (unit: Unit, name: string): Array<[string, State]> => {
    const node = manifest.nodes[unit.models[0]] as ModelNode;
    const windows = windowsBetween(options.eventTimeStart!, options.eventTimeEnd!, node.config.batch_size!);
    const model = selectionOf(unit.models, [], MODES);
    const ofTests = (tests: string[]) => selectionOf([], tests, ['empty']);
    const unitTests = unit.tests.filter((id) => manifest.nodes[id].resource_type === 'unit_test');
    const dataTests = unit.tests.filter((id) => !unitTests.includes(id));
    const states: Array<[string, State]> = [];
    if (unitTests.length > 0) states.push([unique(`${name}_unit_tests`), task(event(ofTests(unitTests)), false)]);
    let rest = windows;
    if (node.config.full_refresh === true) {
      const whole = { start: windows[0].start, end: windows[windows.length - 1].end };
      states.push([unique(name), task(event(model, { window: whole }), false)]);
      rest = [];
    } else if (node.config.full_refresh === null && options.fullRefresh) {
      states.push([unique(`${name}_first_batch`), task(event(model, { fullRefresh: true, window: windows[0] }), false)]);
      rest = windows.slice(1);
    }
    if (rest.length > 0) {
      const [pass, map] = [unique(`${name}_batches`), unique(name)];
      states.push(
        [pass, { Type: 'Pass', Result: rest.map((w) => ({ event_time_start: w.start, event_time_end: w.end })), ResultPath: '$.batches' }],
        [
          map,
          {
            Type: 'Map',
            ItemsPath: '$.batches',
            ItemSelector: { 'event_time_start.$': '$$.Map.Item.Value.event_time_start', 'event_time_end.$': '$$.Map.Item.Value.event_time_end' },
            MaxConcurrency: options.maxConcurrency ?? 4,
            // Never full_refresh here (see above); a model whose config says false ignores the flag anyway.
            ItemProcessor: sequence([[unique(`${name}_batch`), task(event(model, { fullRefresh: false, window: 'item' }), false)]]),
            ResultPath: null,
          },
        ],
      );
    }
    if (dataTests.length > 0) states.push([unique(`${name}_tests`), task(event(ofTests(dataTests)), false)]);
    return states;
  };

  // The top-level states in order; each gets Next (or End) once the order is known.
  const top: Array<[string, State]> = [];
  levels.forEach((ids, i) => {
    const units = unitsOf[i];
    const name = unique(`level_${i + 1}`);
    if (options.granularity === 'level' && units.length === 1 && !units[0].backfill) {
      top.push([name, task(event(selectionOf(units[0].models, units[0].tests, MODES)), true)]);
    } else {
      const branches = units.map((unit) => branch(unit, options.granularity === 'model' || unit.backfill ? nameOf(unit.models[0]) : `${name}_models`));
      top.push([name, { Type: 'Parallel', Branches: branches, ResultPath: null, ...catchAll }]);
    }
    if (afterLevel[i].length > 0) {
      const tests = unique(`${name}_tests`);
      const branches = afterLevel[i].map((id) => sequence([[unique(nameOf(id)), task(event(selectionOf([], [id], ['empty'])), false)]]));
      top.push([tests, { Type: 'Parallel', Branches: branches, ResultPath: null, ...catchAll }]);
    }
  });
  if (top.length === 0) return { Comment: 'smelter: the selection has no models to build', StartAt: 'Nothing', States: { Nothing: { Type: 'Succeed' } } };
  const { StartAt, States: states } = sequence(top);
  states[FAILED] = { Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' };
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return {
    Comment: `smelter ${command} of ${plural(models.length, 'model')}${command === 'build' ? ` and ${plural(testCount, 'test')}` : ''} in ${plural(levels.length, 'level')} (${options.granularity})`,
    StartAt,
    States: states,
  };
}
