import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openProject, selectFrom, type InvocationOptions } from '../../runtime/index.js';
import { DEFAULT_LEASE_SECONDS as STATE_STORE_LEASE_SECONDS } from '../../adapters/dynamodb/dynamodb-state-store.js';
import { DEFAULT_LEASE_SECONDS, RETRIED_ERRORS, concurrentRunRetry, stateMachineFor, type StateMachineOptions } from '../../adapters/stepfunctions/state-machine.js';
import { writeTempProject } from '../helpers/temp-project.js';
import { runsOf, tasks, type Definition } from '../helpers/state-machine-definition.js';

/**
 * The Step Functions definition (adapters/stepfunctions): which Task runs which tests, the Retry
 * for ConcurrentRun against the lease, on the Gold project of this repository and on small
 * projects. The definitions run for real in tests/integration/step-functions.test.ts.
 */

const ROOT = join(import.meta.dirname, '../..');
const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:smelter';
const RELATIONSHIPS = 'relationships_fact_ptr_transactions_member_key__member_key__ref_dim_member_';

/** What `smelter stepfunctions` does: the selection as build runs it, then the generator. */
function definitionFor(options: InvocationOptions, more: Partial<StateMachineOptions> = {}) {
  const p = openProject(options);
  const { nodes } = selectFrom(p, options, ['model', 'test', 'unit_test']);
  const definition = stateMachineFor(p.manifest, p.dag, new Set(nodes.map((n) => n.unique_id)), {
    functionArn: ARN,
    granularity: 'level',
    command: 'build',
    leaseSeconds: p.project.config.target.state.lease_seconds,
    ...more,
  }) as Definition;
  const runs = runsOf(p);
  return { definition, runs };
}


const waits = (retry: { IntervalSeconds: number; BackoffRate: number; MaxAttempts: number }) =>
  Array.from({ length: retry.MaxAttempts }, (_, i) => retry.IntervalSeconds * retry.BackoffRate ** i).reduce((a, b) => a + b, 0);

describe('the Step Functions definition of the Gold project', () => {
  const gold = () => definitionFor({ projectDir: ROOT, target: 'aws', env: { S3_BUCKET_NAME: 'bucket', WATERMARK_TABLE: 'state' } });

  it("runs the fact's relationships test to dim_member in the level that builds the fact, not dim_member's", () => {
    const { definition, runs } = gold();
    expect(Object.keys(definition.States)).toEqual(['level_1', 'level_2', 'level_3', 'Failed']);
    expect(definition.Comment).toBe('smelter build of 5 models and 14 tests in 3 levels (level)');
    expect(tasks(definition)).toEqual({
      level_1: { command: 'build', select: ['dim_asset', 'dim_date', 'dim_member'], indirect_selection: 'cautious' },
      level_2: { command: 'build', select: ['fact_ptr_transactions', RELATIONSHIPS], indirect_selection: 'cautious' },
      level_3: { command: 'build', select: ['agg_trending_stocks'], indirect_selection: 'cautious' },
    });
    // What each invocation's build runs, by the Lambda's own selection of its event.
    expect(runs(definition.States.level_1.Parameters)).toEqual([
      'accepted_values_dim_member_party__Democrat__Republican__Independent',
      'dim_asset',
      'dim_date',
      'dim_member',
      'not_null_dim_asset_asset_key',
      'not_null_dim_date_date_key',
      'not_null_dim_member_bioguide_id',
      'not_null_dim_member_member_key',
      'unique_dim_asset_asset_key',
      'unique_dim_date_date_key',
      'unique_dim_member_member_key',
    ]);
    expect(runs(definition.States.level_2.Parameters)).toEqual([
      'accepted_values_fact_ptr_transactions_transaction_type__purchase__sale__sale_partial__exchange',
      'fact_amounts_keys_and_notification_delay',
      'fact_ptr_transactions',
      'not_null_fact_ptr_transactions_transaction_key',
      RELATIONSHIPS,
      'unique_combination_of_columns_fact_ptr_transactions_doc_id__line_number',
      'unique_fact_ptr_transactions_transaction_key',
    ]);
    expect(runs(definition.States.level_3.Parameters)).toEqual(['agg_trending_stocks']);
  });

  it("retries ConcurrentRun for longer than the aws target's lease_seconds (900), the other retryable errors as before", () => {
    const { definition } = gold();
    const retry = definition.States.level_2.Retry;
    expect(retry).toEqual([
      { ErrorEquals: ['ConcurrentRun'], IntervalSeconds: 30, BackoffRate: 2, MaxAttempts: 5 },
      { ErrorEquals: ['Transient', 'Timeout', 'Lambda.ServiceException', 'Lambda.TooManyRequestsException', 'Lambda.SdkClientException'], IntervalSeconds: 10, BackoffRate: 2, MaxAttempts: 4 },
    ]);
    expect(retry[1].ErrorEquals).toEqual(RETRIED_ERRORS);
    expect(waits(retry[0])).toBe(930);
    expect(waits(retry[0])).toBeGreaterThan(900);
  });
});

describe('stateMachineFor', () => {
  /*
   * raw.events -> a -> c    tests: unique_a_id (a), relationships_b_id__id__ref_a_ (b, a),
   * raw.events -> b -> c           relationships_c_id__id__ref_a_ (c, a), unique_c_id (c),
   *                                the unit test c_unions (c), source_not_null_raw_events_id (raw.events)
   */
  function project(leaseSeconds?: number): string {
    return writeTempProject({
      'project.yml': `name: sm\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake${leaseSeconds ? `, state: { backend: dynamodb, table: t, lease_seconds: ${leaseSeconds} }` : ''} }\n`,
      'models/sources.yml': 'version: 2\nsources:\n  - name: raw\n    tables:\n      - name: events\n        columns:\n          - { name: id, data_tests: [not_null] }\n',
      'models/schema.yml': [
        'version: 2',
        'models:',
        '  - name: a',
        '    columns:',
        '      - { name: id, data_tests: [unique] }',
        '  - name: b',
        '    columns:',
        `      - { name: id, data_tests: [{ relationships: { to: "ref('a')", field: id } }] }`,
        '  - name: c',
        '    columns:',
        `      - { name: id, data_tests: [unique, { relationships: { to: "ref('a')", field: id } }] }`,
        'unit_tests:',
        '  - name: c_unions',
        '    model: c',
        '    given:',
        `      - { input: "ref('a')", rows: [{ id: 1 }] }`,
        `      - { input: "ref('b')", rows: [{ id: 2 }] }`,
        '    expect: { rows: [{ id: 1 }, { id: 2 }] }',
        '',
      ].join('\n'),
      'models/a.sql': "select id from {{ source('raw', 'events') }}",
      'models/b.sql': "select id from {{ source('raw', 'events') }}",
      'models/c.sql': "select id from {{ ref('a') }} union all select id from {{ ref('b') }}",
    });
  }
  const REL_B = 'relationships_b_id__id__ref_a_';
  const REL_C = 'relationships_c_id__id__ref_a_';

  it('--granularity model: a test whose parents are in two branches of a level gets its own Task after the level', () => {
    const { definition, runs } = definitionFor({ projectDir: project(), env: {} }, { granularity: 'model' });
    expect(Object.keys(definition.States)).toEqual(['level_1', 'level_1_tests', 'level_2', 'Failed']);
    expect(definition.States.level_1).toMatchObject({ Type: 'Parallel', Next: 'level_1_tests' });
    expect(definition.States.level_1_tests).toMatchObject({
      Type: 'Parallel',
      Branches: [{ StartAt: REL_B, States: { [REL_B]: { Type: 'Task', End: true } } }],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Failed' }],
      Next: 'level_2',
    });
    expect(definition.States.level_2).toMatchObject({ Type: 'Parallel', End: true });
    expect(tasks(definition)).toEqual({
      a: { command: 'build', select: ['a'], indirect_selection: 'cautious' },
      b: { command: 'build', select: ['b'], indirect_selection: 'cautious' },
      [REL_B]: { command: 'build', select: [REL_B], indirect_selection: 'empty' },
      c: { command: 'build', select: ['c', REL_C], indirect_selection: 'cautious' },
    });
    expect(runs(tasks(definition).a as never)).toEqual(['a', 'unique_a_id']);
    expect(runs(tasks(definition).b as never)).toEqual(['b']);
    expect(runs(tasks(definition)[REL_B] as never)).toEqual([REL_B]);
    expect(runs(tasks(definition).c as never)).toEqual(['c', 'c_unions', REL_C, 'unique_c_id']);
  });

  it('--granularity level: both parents in one invocation, so cautious selects the test there', () => {
    const { definition } = definitionFor({ projectDir: project(), env: {} });
    expect(Object.keys(definition.States)).toEqual(['level_1', 'level_2', 'Failed']);
    expect(tasks(definition)).toEqual({
      level_1: { command: 'build', select: ['a', 'b'], indirect_selection: 'cautious' },
      level_2: { command: 'build', select: ['c', REL_C], indirect_selection: 'cautious' },
    });
  });

  it('runs no test whose other parent the state machine does not build; empty and --exclude make the Tasks name their tests', () => {
    const dir = project();
    // a is not built: the relationships test of c would read whatever a holds.
    expect(tasks(definitionFor({ projectDir: dir, env: {}, select: ['c'] }).definition)).toEqual({
      level_1: { command: 'build', select: ['c'], indirect_selection: 'cautious' },
    });
    expect(tasks(definitionFor({ projectDir: dir, env: {}, select: ['a b c'], indirectSelection: 'empty' }).definition)).toEqual({
      level_1: { command: 'build', select: ['a', 'b'], indirect_selection: 'empty' },
      level_2: { command: 'build', select: ['c'], indirect_selection: 'empty' },
    });
    const excluded = definitionFor({ projectDir: dir, env: {}, exclude: ['unique_c_id'] });
    expect(tasks(excluded.definition)).toEqual({
      level_1: { command: 'build', select: ['a', 'b'], indirect_selection: 'cautious' },
      // c's name also selects its unit test (its fqn is sm.c.c_unions): empty, and no name for it.
      level_2: { command: 'build', select: ['c', REL_C], indirect_selection: 'empty' },
    });
    expect(excluded.runs(excluded.definition.States.level_2.Parameters)).toEqual(['c', 'c_unions', REL_C]);
    // Leaving the unit test out takes an exclude: the model's name would select it.
    const noUnit = definitionFor({ projectDir: dir, env: {}, exclude: ['c_unions'] });
    expect(tasks(noUnit.definition).level_2).toEqual({ command: 'build', select: ['c', REL_C], exclude: ['c_unions'], indirect_selection: 'cautious' });
    expect(noUnit.runs(noUnit.definition.States.level_2.Parameters)).toEqual(['c', REL_C, 'unique_c_id']);
  });

  it("command run: no tests, no indirect_selection", () => {
    const { definition } = definitionFor({ projectDir: project(), env: {} }, { command: 'run' });
    expect(tasks(definition)).toEqual({ level_1: { command: 'run', select: ['a', 'b'] }, level_2: { command: 'run', select: ['c'] } });
  });

  it("takes the target's lease_seconds; the default is the DynamoDB backend's", () => {
    expect(DEFAULT_LEASE_SECONDS).toBe(STATE_STORE_LEASE_SECONDS);
    const { definition } = definitionFor({ projectDir: project(60), env: {} });
    expect(definition.States.level_1.Retry[0]).toEqual({ ErrorEquals: ['ConcurrentRun'], IntervalSeconds: 6, BackoffRate: 2, MaxAttempts: 4 });
    expect(waits(definition.States.level_1.Retry[0])).toBe(90);
    expect(definitionFor({ projectDir: project(), env: {} }).definition.States.level_1.Retry[0]).toEqual(concurrentRunRetry(900));
    for (const lease of [1, 10, 59, 60, 61, 300, 899, 900, 901, 3600, 43_200]) {
      const retry = concurrentRunRetry(lease);
      expect(waits(retry)).toBeGreaterThan(lease);
      // Not much more: the attempt before the last still waited less than the lease in all.
      expect(waits({ ...retry, MaxAttempts: retry.MaxAttempts - 1 })).toBeLessThanOrEqual(lease);
    }
  });
});
