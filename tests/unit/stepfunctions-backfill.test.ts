import { describe, expect, it } from 'vitest';
import { openProject, selectFrom } from '../../runtime/index.js';
import { stateMachineFor, type StateMachineOptions } from '../../adapters/stepfunctions/state-machine.js';
import { writeTempProject } from '../helpers/temp-project.js';
import { runsOf, tasks, type Definition } from '../helpers/state-machine-definition.js';

/**
 * A backfill in the Step Functions definition (adapters/stepfunctions): the branch of a microbatch
 * model given --event-time-start/--event-time-end. Its batches build the model only; its data
 * tests run once after them, its unit tests once before; with --full-refresh the first batch runs
 * alone and is the only invocation that full-refreshes the model. Run for real, over the packaged
 * handler, in tests/e2e/aws-state-machine.test.ts.
 */

const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:smelter';
const START = new Date('2024-06-01T00:00:00Z');
const END = new Date('2024-06-04T00:00:00Z');
const DAY_1 = { event_time_start: '2024-06-01T00:00:00.000Z', event_time_end: '2024-06-02T00:00:00.000Z' };
const DAY_2 = { event_time_start: '2024-06-02T00:00:00.000Z', event_time_end: '2024-06-03T00:00:00.000Z' };
const DAY_3 = { event_time_start: '2024-06-03T00:00:00.000Z', event_time_end: '2024-06-04T00:00:00.000Z' };
const REL = 'relationships_daily_day__day__ref_a_';

/*
 * raw.events -> daily (microbatch, by day) -> later;  a (a table) beside daily in level 1.
 * Tests: unique_daily_day, not_null_daily_day (daily), the unit test daily_counts (daily),
 * relationships daily.day -> a.day (daily and a: two invocations of level 1), unique_a_day (a).
 * `always`: a microbatch model whose config says full_refresh: true.
 */
const dir = writeTempProject({
  'project.yml': 'name: bf\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake }\n',
  'models/sources.yml': 'version: 2\nsources:\n  - name: raw\n    tables:\n      - name: events\n        config: { event_time: ts }\n',
  'models/daily.sql':
    "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='day', batch_size='day', begin='2024-06-01', external=true) }}\nselect cast(ts as date) as day, count(*) as events from {{ source('raw', 'events') }} group by 1\n",
  'models/always.sql':
    "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='day', batch_size='day', begin='2024-06-01', external=true, full_refresh=true) }}\nselect cast(ts as date) as day from {{ source('raw', 'events') }}\n",
  'models/a.sql': "{{ config(materialized='table') }}\nselect date '2024-06-01' as day",
  'models/later.sql': "select * from {{ ref('daily') }}",
  'models/schema.yml': [
    'version: 2',
    'models:',
    '  - name: daily',
    '    columns:',
    `      - { name: day, data_tests: [unique, not_null, { relationships: { to: "ref('a')", field: day } }] }`,
    '  - name: a',
    '    columns:',
    '      - { name: day, data_tests: [unique] }',
    'unit_tests:',
    '  - name: daily_counts',
    '    model: daily',
    '    given:',
    `      - { input: "source('raw', 'events')", rows: [{ ts: "2024-06-01 01:00:00" }, { ts: "2024-06-01 02:00:00" }] }`,
    "    expect: { rows: [{ day: '2024-06-01', events: 2 }] }",
    '',
  ].join('\n'),
});

/** `smelter stepfunctions --event-time-start 2024-06-01 --event-time-end 2024-06-04` of `select`, and what the Lambda's build runs for an event. */
function definitionFor(select: string[], more: Partial<StateMachineOptions> = {}) {
  const options = { projectDir: dir, env: {}, select };
  const p = openProject(options);
  const { nodes } = selectFrom(p, options, ['model', 'test', 'unit_test']);
  const definition = stateMachineFor(p.manifest, p.dag, new Set(nodes.map((n) => n.unique_id)), {
    functionArn: ARN,
    granularity: 'level',
    command: 'build',
    eventTimeStart: START,
    eventTimeEnd: END,
    ...more,
  }) as Definition;
  const runs = runsOf(p);
  return { definition, runs };
}


/** A branch's states in the order they run, a Task's without its Retry (the same everywhere; state-machine.test.ts checks it). */
function inOrder(branch: Definition): Array<[string, Definition]> {
  const out: Array<[string, Definition]> = [];
  for (let name: string | undefined = branch.StartAt; name !== undefined; name = branch.States[name].Next) {
    const { Retry, ...state } = branch.States[name];
    if (state.Type === 'Task') expect(Retry, name).toHaveLength(2);
    out.push([name, state]);
  }
  expect(out.map(([name]) => name).sort()).toEqual(Object.keys(branch.States).sort());
  return out;
}

const task = (Parameters: Definition, end = false) => ({ Type: 'Task', Resource: ARN, Parameters, ResultPath: null, ...(end ? { End: true } : {}) });
/** A batch's event: the model only (its unit test excluded: the model's name also selects it). */
const BATCH = { command: 'build', select: ['daily'], exclude: ['daily_counts'], indirect_selection: 'empty' };
const UNIT_TESTS = { command: 'build', select: ['daily_counts'], indirect_selection: 'empty' };
const DATA_TESTS = { command: 'build', select: ['not_null_daily_day', 'unique_daily_day'], indirect_selection: 'empty' };
/** The Pass state that puts the batches in the branch's input, and the Map over them, as inOrder lists them. */
const batches = (items: Definition[]): Array<[string, Definition]> => [
  ['daily_batches', { Type: 'Pass', Result: items, ResultPath: '$.batches', Next: 'daily' }],
  [
    'daily',
    {
      Type: 'Map',
      ItemsPath: '$.batches',
      ItemSelector: { 'event_time_start.$': '$$.Map.Item.Value.event_time_start', 'event_time_end.$': '$$.Map.Item.Value.event_time_end' },
      MaxConcurrency: 4,
      // No full_refresh and no test in an item.
      ItemProcessor: {
        StartAt: 'daily_batch',
        States: { daily_batch: { ...task({ ...BATCH, 'event_time_start.$': '$.event_time_start', 'event_time_end.$': '$.event_time_end' }, true), Retry: expect.any(Array) } },
      },
      ResultPath: null,
      Next: 'daily_tests',
    },
  ],
];

describe('a backfill in the Step Functions definition', () => {
  it('runs the batches without tests in a Map, the unit test before it and the data tests once after it, in the same branch', () => {
    const { definition, runs } = definitionFor(['a', 'daily', 'later']);
    expect(Object.keys(definition.States)).toEqual(['level_1', 'level_1_tests', 'level_2', 'Failed']);
    const [models, daily] = definition.States.level_1.Branches;
    expect(inOrder(models)).toEqual([['level_1_models', task({ command: 'build', select: ['a'], indirect_selection: 'cautious' }, true)]]);
    expect(inOrder(daily)).toEqual([
      ['daily_unit_tests', { ...task(UNIT_TESTS), Next: 'daily_batches' }],
      ...batches([DAY_1, DAY_2, DAY_3]),
      ['daily_tests', task(DATA_TESTS, true)],
    ]);
    // What each invocation's build runs, by the Lambda's own selection of its event.
    const t = tasks(definition);
    expect(runs(t.daily_batch as never)).toEqual(['daily']);
    expect(runs(t.daily_unit_tests as never)).toEqual(['daily_counts']);
    expect(runs(t.daily_tests as never)).toEqual(['not_null_daily_day', 'unique_daily_day']);
    // The test reading daily and a (two invocations of level 1) after the level, as before.
    expect(runs(t[REL] as never)).toEqual([REL]);
    expect(runs(t.level_1_models as never)).toEqual(['a', 'unique_a_day']);
    expect(Object.values(t).filter((e) => 'full_refresh' in e)).toEqual([]);
    expect(definition.Comment).toBe('smelter build of 3 models and 5 tests in 2 levels (level)');
  });

  it('--full-refresh: the first batch alone is the one invocation of the model that full-refreshes, before the Map over the others', async () => {
    const { definition, runs } = definitionFor(['a', 'daily', 'later'], { fullRefresh: true, maxConcurrency: 4 });
    const validate = (await import('asl-validator')).default;
    // A copy: the validator adds QueryLanguage to the states it checks.
    expect(validate(structuredClone(definition))).toMatchObject({ isValid: true });
    const [, daily] = definition.States.level_1.Branches;
    expect(inOrder(daily)).toEqual([
      ['daily_unit_tests', { ...task({ ...UNIT_TESTS, full_refresh: true }), Next: 'daily_first_batch' }],
      ['daily_first_batch', { ...task({ ...BATCH, full_refresh: true, ...DAY_1 }), Next: 'daily_batches' }],
      ...batches([DAY_2, DAY_3]),
      ['daily_tests', { ...task({ ...DATA_TESTS, full_refresh: true }), End: true }],
    ]);
    // Of the invocations that build daily, exactly one carries full_refresh, and it runs first.
    const t = tasks(definition);
    const buildingDaily = Object.entries(t).filter(([, e]) => runs(e as never).includes('daily'));
    expect(buildingDaily.map(([name, e]) => [name, e.full_refresh ?? false])).toEqual([
      ['daily_first_batch', true],
      ['daily_batch', false],
    ]);
    expect(runs(t.daily_first_batch as never)).toEqual(['daily']);
    // The other models full-refresh as --full-refresh says.
    expect(t.level_1_models).toEqual({ command: 'build', select: ['a'], indirect_selection: 'cautious', full_refresh: true });
    expect(t.level_2).toMatchObject({ select: ['later'], full_refresh: true });
  });

  it('--full-refresh over one batch: the first batch only, no Map', () => {
    const { definition } = definitionFor(['daily'], { fullRefresh: true, eventTimeEnd: new Date('2024-06-01T12:00:00Z') });
    expect(Object.keys(definition.States)).toEqual(['level_1', 'Failed']);
    expect(inOrder(definition.States.level_1.Branches[0]).map(([name, s]) => [name, s.Type, s.Parameters])).toEqual([
      ['daily_unit_tests', 'Task', { ...UNIT_TESTS, full_refresh: true }],
      ['daily_first_batch', 'Task', { ...BATCH, full_refresh: true, ...DAY_1 }],
      ['daily_tests', 'Task', { ...DATA_TESTS, full_refresh: true }],
    ]);
  });

  it("a model whose config says full_refresh: true (every invocation replaces it) is backfilled in one invocation over the whole window", () => {
    const { definition } = definitionFor(['always']);
    expect(definition.States.level_1.Branches).toEqual([
      {
        StartAt: 'always',
        States: {
          always: {
            ...task({ command: 'build', select: ['always'], indirect_selection: 'cautious', event_time_start: DAY_1.event_time_start, event_time_end: DAY_3.event_time_end }, true),
            Retry: expect.any(Array),
          },
        },
      },
    ]);
  });

  it('command run: the batches as before, no test Tasks', () => {
    const { definition } = definitionFor(['daily'], { command: 'run', fullRefresh: true });
    expect(tasks(definition)).toEqual({
      daily_first_batch: { command: 'run', select: ['daily'], full_refresh: true, ...DAY_1 },
      daily_batch: { command: 'run', select: ['daily'], 'event_time_start.$': '$.event_time_start', 'event_time_end.$': '$.event_time_end' },
    });
  });

  it('refuses an empty event-time range, as build does', () => {
    expect(() => definitionFor(['daily'], { eventTimeStart: END, eventTimeEnd: START })).toThrow(
      '--event-time-start (2024-06-04T00:00:00.000Z) must be before --event-time-end (2024-06-01T00:00:00.000Z)',
    );
  });

  it('refuses one event-time bound without the other: the windows would depend on when the definition was written', () => {
    expect(() => definitionFor(['daily'], { eventTimeEnd: undefined })).toThrow(
      "--event-time-start needs --event-time-end: a backfill state machine's batches are fixed when its definition is written",
    );
    expect(() => definitionFor(['daily'], { eventTimeStart: undefined })).toThrow(
      "--event-time-end needs --event-time-start: a backfill state machine's batches are fixed when its definition is written",
    );
  });
});
