import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../helpers/promise-with-resolvers.js';
import { queryDuckDB } from '../helpers/duckdb.js';
import { writeTempProject } from '../helpers/temp-project.js';
import { openProject, selectFrom, type InvocationOptions } from '../../runtime/index.js';
import { stateMachineFor, type StateMachineOptions } from '../../adapters/stepfunctions/state-machine.js';
import { handler, type LambdaResult } from '../../adapters/lambda/handler.js';
import { main as generateSilver } from '../../scripts/generate-silver.js';

/**
 * `smelter stepfunctions`: the definition is valid ASL (asl-validator) and, run by a local States
 * Language interpreter (aws-local-stepfunctions) whose Tasks call the real Lambda handler, builds
 * the project on its local `aws` target: levels in graph order, a Map over microbatch batches,
 * Retry on the retryable error names, Catch into a Fail state that carries the error; each test in
 * the invocation that builds the last of its parents, so the first run on empty storage succeeds.
 */

type Definition = Record<string, unknown>;
let StateMachine: typeof import('aws-local-stepfunctions').StateMachine;
let validate: (definition: unknown) => { isValid: boolean; errors: unknown[] };

beforeAll(async () => {
  ({ StateMachine } = await import('aws-local-stepfunctions'));
  validate = (await import('asl-validator')).default;
});

afterAll(() => {
  delete process.env.SMELTER_PROJECT_DIR;
});

const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:smelter';

/** What `smelter stepfunctions` prints: the selection as build runs it, tests included, then the generator. */
function stateMachine(options: InvocationOptions & Pick<StateMachineOptions, 'functionArn' | 'granularity' | 'command'>): Definition {
  const p = openProject(options);
  const { nodes } = selectFrom(p, options, ['model', 'test', 'unit_test']);
  return stateMachineFor(p.manifest, p.dag, new Set(nodes.map((n) => n.unique_id)), {
    ...options,
    leaseSeconds: p.project.config.target.state.lease_seconds,
  });
}

function project(badModel = false): string {
  return writeTempProject({
    'project.yml': 'name: sfn\ntarget: dev\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 2 }\n  aws: { database: target/aws.duckdb, storage: target/lake, threads: 2 }\n',
    'models/sources.yml': "version: 2\nsources:\n  - name: raw\n    external_location: data/events.csv\n    tables:\n      - name: events\n        config: { event_time: ts }\n",
    'models/a.sql': "{{ config(materialized='table') }}\nselect 1 as id",
    'models/b.sql': badModel ? "{{ config(materialized='table') }}\nselect * from no_such_table" : "{{ config(materialized='table') }}\nselect id + 1 as id from {{ ref('a') }}",
    'models/c.sql': "{{ config(materialized='table') }}\nselect id + 2 as id from {{ ref('a') }}",
    'models/d.sql': "{{ config(materialized='table') }}\nselect * from {{ ref('b') }} union all select * from {{ ref('c') }}",
    // A test of a, one of b against d (a later level), and one reading b and c (two branches of a level).
    'models/schema.yml': `version: 2\nmodels:\n  - name: a\n    columns:\n      - { name: id, data_tests: [unique] }\n  - name: b\n    columns:\n      - { name: id, data_tests: [{ relationships: { to: "ref('d')", field: id } }] }\n`,
    'data_tests/b_c_disjoint.sql': "select id from {{ ref('b') }} intersect select id from {{ ref('c') }}\n",
    'models/daily.sql':
      "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='day', batch_size='day', begin='2024-06-01', external=true) }}\nselect cast(ts as date) as day, count(*) as events from {{ source('raw', 'events') }} group by 1\n",
    'data/events.csv': 'ts\n2024-06-01 01:00:00\n2024-06-02 01:00:00\n2024-06-02 02:00:00\n2024-06-03 05:00:00\n',
  });
}

/** Every Task state's name, inside Parallel branches and Map processors too. */
function taskNames(definition: Definition): string[] {
  const out: string[] = [];
  const visit = (states: Record<string, Definition>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') out.push(name);
      for (const b of (state.Branches as Definition[] | undefined) ?? []) visit(b.States as Record<string, Definition>);
      const processor = state.ItemProcessor as Definition | undefined;
      if (processor) visit(processor.States as Record<string, Definition>);
    }
  };
  visit(definition.States as Record<string, Definition>);
  return out;
}

async function execute(dir: string, definition: Definition, wrap: (name: string, call: (input: unknown) => Promise<unknown>) => (input: unknown) => Promise<unknown> = (_, call) => call) {
  process.env.SMELTER_PROJECT_DIR = dir;
  const handlers = Object.fromEntries(taskNames(definition).map((name) => [name, wrap(name, (input) => handler(input))]));
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: true } });
  const retryIntervalOverrides = Object.fromEntries(taskNames(definition).map((n) => [n, 0]));
  return machine.run({}, { overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides } }).result;
}

describe('smelter stepfunctions', () => {
  it('emits valid ASL in graph levels; run locally through the handler it builds every model and backfills the microbatch batches', async () => {
    const dir = project();
    const definition = stateMachine({
      projectDir: dir,
      env: {},
      functionArn: ARN,
      granularity: 'model',
      command: 'build',
      eventTimeStart: new Date('2024-06-01T00:00:00Z'),
      eventTimeEnd: new Date('2024-06-04T00:00:00Z'),
    });
    expect(validate(definition)).toMatchObject({ isValid: true });
    const states = definition.States as Record<string, Definition>;
    expect(Object.keys(states)).toEqual(['level_1', 'level_2', 'level_2_tests', 'level_3', 'Failed']);
    expect(taskNames(definition)).toEqual(['a', 'daily_batch', 'b', 'c', 'b_c_disjoint', 'd']);
    expect(states.level_2.Type).toBe('Parallel');
    expect(states.Failed).toMatchObject({ Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' });
    // On empty storage: each test runs where the last of its parents is built, b_c_disjoint (b and
    // c, two branches of level 2) after level 2, b's relationships test to d with d.
    const ran: Record<string, string[]> = {};
    await execute(dir, definition, (name, call) => async (input) => {
      const result = (await call(input)) as LambdaResult;
      (ran[name] ??= []).push(...result.results.map((r) => `${r.unique_id} ${r.status}`));
      return result;
    });
    expect(ran).toEqual({
      a: ['model.sfn.a success', 'test.sfn.unique_a_id pass'],
      daily_batch: ['model.sfn.daily success', 'model.sfn.daily success', 'model.sfn.daily success'],
      b: ['model.sfn.b success'],
      c: ['model.sfn.c success'],
      b_c_disjoint: ['test.sfn.b_c_disjoint pass'],
      d: ['model.sfn.d success', 'test.sfn.relationships_b_id__id__ref_d_ pass'],
    });
    const db = join(dir, 'target/aws.duckdb');
    expect(await queryDuckDB(db, 'select id from main.d order by id')).toEqual([{ id: 2 }, { id: 3 }]);
    expect(await queryDuckDB(db, 'select day, events from main.daily order by day')).toEqual([
      { day: '2024-06-01', events: '1' },
      { day: '2024-06-02', events: '2' },
      { day: '2024-06-03', events: '1' },
    ]);
  });

  it('retries a Transient failure and a ConcurrentRun; any other failure ends in the Fail state with its name', async () => {
    const dir = project();
    const definition = stateMachine({ projectDir: dir, env: {}, functionArn: ARN, granularity: 'level', command: 'build', select: ['+d'] });
    expect(validate(definition)).toMatchObject({ isValid: true });
    expect(taskNames(definition)).toEqual(['level_1', 'level_2', 'level_3']);
    const calls: string[] = [];
    // A transient fault (a throttled or dropped invocation) and a lease another run holds cannot be
    // provoked in a local run: injected once each here.
    await execute(dir, definition, (name, call) => async (input) => {
      calls.push(name);
      const first = calls.filter((c) => c === name).length === 1;
      if (name === 'level_1' && first) throw Object.assign(new Error('{"error":"another run holds main.a"}'), { name: 'ConcurrentRun' });
      if (name === 'level_2' && first) throw Object.assign(new Error('{"error":"socket hang up"}'), { name: 'Transient' });
      return call(input);
    });
    expect(calls).toEqual(['level_1', 'level_1', 'level_2', 'level_2', 'level_3']);
    expect(await queryDuckDB(join(dir, 'target/aws.duckdb'), 'select count(*) as n from main.d')).toEqual([{ n: '2' }]);

    const broken = project(true);
    const failing = stateMachine({ projectDir: broken, env: {}, functionArn: ARN, granularity: 'level', command: 'build', select: ['+d'] });
    const error = await execute(broken, failing).then(
      () => undefined,
      (e: Error) => e,
    );
    // The Fail state carries the handler's error: its name, and the run summary as the cause.
    expect((error as { cause?: { name?: string } })?.cause?.name).toBe('ModelFailed');
    expect(error?.message).toContain('"unique_id":"model.sfn.b","status":"error"');
  });
});

/** A copy of the repository's Gold project whose `aws` target is local: a DuckDB file, a folder for the lake, local state. */
function goldProject(): string {
  const root = join(import.meta.dirname, '../..');
  const dir = mkdtempSync(join(tmpdir(), 'smelter-sfn-gold-'));
  for (const part of ['project.yml', 'models', 'macros']) cpSync(join(root, part), join(dir, part), { recursive: true });
  const yml = readFileSync(join(dir, 'project.yml'), 'utf8');
  const aws = /\n  aws:\n(    .*\n)+/;
  if (!aws.test(yml)) throw new Error('project.yml has no aws target to replace');
  writeFileSync(
    join(dir, 'project.yml'),
    yml.replace(aws, '\n  aws:\n    database: target/aws.duckdb\n    threads: 2\n    settings: { memory_limit: 1GB }\n    storage: target/lake\n    state: { backend: local }\n    vars: { silver_root: data/silver }\n'),
  );
  return dir;
}

describe('the Gold project of this repository', () => {
  it('its definition builds it on an empty target (the first deploy), then again after a new day of Silver with late member changes', async () => {
    const dir = goldProject();
    const io = { stdout: () => undefined, stderr: (t: string) => expect.fail(t), cwd: dir };
    expect(await generateSilver(['--transactions', '3000', '--seed', '7'], io)).toBe(0);
    const definition = stateMachine({ projectDir: dir, target: 'aws', env: {}, functionArn: ARN, granularity: 'level', command: 'build' });
    expect(validate(definition)).toMatchObject({ isValid: true });
    expect(taskNames(definition)).toEqual(['level_1', 'level_2', 'level_3']);
    const relationships = 'test.congress_gold.relationships_fact_ptr_transactions_member_key__member_key__ref_dim_member_';
    const db = join(dir, 'target/aws.duckdb');
    const count = async (sql: string) => Number((await queryDuckDB(db, sql))[0].n);
    const silver = `read_parquet('${join(dir, 'data/silver/transactions/*.parquet')}')`;

    for (const day of [undefined, ['--append-day', '--seed', '7', '--late-changes', '2']]) {
      if (day) expect(await generateSilver(day, io)).toBe(0);
      const ran: Record<string, Array<[string, string]>> = {};
      await execute(dir, definition, (name, call) => async (input) => {
        const result = (await call(input)) as LambdaResult;
        ran[name] = result.results.map((r) => [r.unique_id, r.status]);
        return result;
      });
      // One invocation per level, none retried; every node built or passed.
      expect(Object.keys(ran)).toEqual(['level_1', 'level_2', 'level_3']);
      expect(Object.values(ran).flat().filter(([, status]) => status !== 'success' && status !== 'pass')).toEqual([]);
      // The fact's relationships test runs after the fact, in its level: not in dim_member's.
      expect(ran.level_1.map(([id]) => id).filter((id) => id.includes('fact_ptr_transactions'))).toEqual([]);
      expect(ran.level_2.map(([id]) => id)).toContain('model.congress_gold.fact_ptr_transactions');
      expect(ran.level_2).toContainEqual([relationships, 'pass']);
      expect(ran.level_3).toEqual([['model.congress_gold.agg_trending_stocks', 'success']]);
      // Every Silver trade once, each with the member version valid on its date.
      expect(await count('select count(*) as n from gold.fact_ptr_transactions')).toBe(await count(`select count(*) as n from ${silver}`));
      expect(
        await count(
          `select count(*) as n from gold.fact_ptr_transactions f left join gold.dim_member m
           on m.bioguide_id = f.bioguide_id and f.transaction_date between m.valid_from and m.valid_to
           where m.member_key is distinct from f.member_key`,
        ),
      ).toBe(0);
    }
  }, 120_000);
});
