import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { queryDuckDB } from '../helpers/duckdb.js';
import { writeTempProject } from '../helpers/temp-project.js';
import { FAILURE_LIMIT_BYTES, handler, InvocationFailure, sessionsCreated } from '../../adapters/lambda/handler.js';

/**
 * The Lambda handler on a project whose `aws` target is local (a DuckDB file, local storage, local
 * state): event validation, the result, the error names Step Functions match, the deadline, and the
 * warm reuse of the parsed project.
 */

const PROJECT = `name: lam
vars:
  factor: 1
target: dev
targets:
  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }
  aws: { database: target/aws.duckdb, storage: target/lake, threads: 1 }
`;

function project(): string {
  return writeTempProject({
    'project.yml': PROJECT,
    'models/sources.yml': "version: 2\nsources:\n  - name: landing\n    external_location: data/orders.csv\n    tables:\n      - name: orders\n",
    'models/schema.yml': 'version: 2\nmodels:\n  - name: fact\n    columns:\n      - name: id\n        data_tests: [unique]\n',
    'models/fact.sql':
      "{{ config(materialized='incremental', external=true, watermark='id', incremental_strategy='append') }}\nselect id, amount * {{ var('factor') }} as amount from {{ source('landing', 'orders') }}\n{% if is_incremental() %}where id > {{ watermark() }}{% endif %}\n",
    'models/slow.sql': "{{ config(materialized='table') }}\nselect count(*) as n from range(3000000000) t(i) where i % 7 = 3\n",
    'data/orders.csv': 'id,amount\n1,5\n2,20\n',
  });
}

async function invoke(dir: string, event: unknown, remainingMs?: number) {
  process.env.SMELTER_PROJECT_DIR = dir;
  try {
    return { ok: await handler(event, remainingMs === undefined ? {} : { getRemainingTimeInMillis: () => remainingMs }) };
  } catch (error) {
    if (!(error instanceof InvocationFailure)) throw error;
    return { name: error.name, summary: JSON.parse(error.message) as { error?: string; results?: Array<{ unique_id: string; status: string }> } };
  }
}

const children: ChildProcess[] = [];

afterAll(() => {
  delete process.env.SMELTER_PROJECT_DIR;
  for (const child of children) child.kill('SIGKILL');
});

describe('the Lambda handler', () => {
  it('two concurrent first invocations in a cold process share one Session, and both succeed', async () => {
    // The first test of the file: the handler's module has no warm session yet.
    expect(sessionsCreated).toBe(0);
    const dir = project();
    process.env.SMELTER_PROJECT_DIR = dir;
    const [a, b] = await Promise.all([handler({ command: 'run', select: ['fact'] }), handler({ command: 'run', select: ['fact'] })]);
    expect(sessionsCreated).toBe(1);
    // Runs of one session are serialized: the first builds both rows, the second finds nothing new.
    expect([a.results[0].rows, b.results[0].rows]).toEqual([2, 0]);
    expect(b.watermarks).toEqual({ 'main.fact': '2' });
  });

  it('builds the selection on the aws target and returns results and watermarks; warm invocations reuse the parsed project', async () => {
    const dir = project();
    const first = await invoke(dir, { select: ['fact'] });
    expect(first.ok).toMatchObject({
      status: 'success',
      results: [
        { unique_id: 'model.lam.fact', status: 'success', rows: 2 },
        { unique_id: 'test.lam.unique_fact_id', status: 'pass', rows: 0 },
      ],
      watermarks: { 'main.fact': '2' },
    });
    expect(typeof first.ok?.invocation_id).toBe('string');
    // indirect_selection: empty builds the model without the test attached to it.
    const untested = await invoke(dir, { select: ['fact'], indirect_selection: 'empty' });
    expect(untested.ok?.results.map((r) => [r.unique_id, r.status])).toEqual([['model.lam.fact', 'success']]);
    // Warm: the project parsed at the first invocation is used, even if a file changed since.
    writeFileSync(join(dir, 'models/fact.sql'), 'this is not SQL');
    writeFileSync(join(dir, 'data/orders.csv'), 'id,amount\n1,5\n2,20\n3,7\n');
    const second = await invoke(dir, { command: 'run', select: ['fact'] });
    expect(second.ok).toMatchObject({ results: [{ unique_id: 'model.lam.fact', status: 'success', rows: 1 }], watermarks: { 'main.fact': '3' } });
  });

  it('reports the watermark of a model with an alias under its state key, schema.name', async () => {
    const dir = writeTempProject({
      'project.yml': PROJECT,
      'models/sources.yml': "version: 2\nsources:\n  - name: landing\n    external_location: data/orders.csv\n    tables:\n      - name: orders\n",
      'models/fact.sql': "{{ config(materialized='incremental', external=true, alias='fact_v2', watermark='id', incremental_strategy='append') }}\nselect id from {{ source('landing', 'orders') }}\n",
      'data/orders.csv': 'id,amount\n1,5\n7,20\n',
    });
    const out = await invoke(dir, { select: ['fact'] });
    expect(out.ok?.watermarks).toEqual({ 'main.fact': '7' });
  });

  it('refuses a bad event as ProjectError, with nothing run', async () => {
    const dir = project();
    const cases: Array<[unknown, RegExp]> = [
      [{ selects: ['fact'] }, /^unknown event field "selects" \(fields: command, select, exclude, indirect_selection, full_refresh, vars, target, event_time_start, event_time_end\)$/],
      [{ command: 'deploy' }, /command must be one of build, run, test, seed/],
      [{ select: ['fact+1+'] }, /fact\+1\+/],
      [{ select: ['nothing_here'] }, /^select 'nothing_here' matches no enabled node \(a selection must match every model it names: nothing was run\)$/],
      [{ select: ['fact', 'fakt'] }, /^select 'fakt' matches no enabled node \(did you mean fact\?\)$/],
      [{ command: 'test', select: ['slow'] }, /^the selection holds nothing test runs: slow$/],
      [{ select: ['fact'], vars: { undeclared: 1 } }, /undeclared/],
      [{ select: ['fact'], vars: { factor: 'two' } }, /^event vars: 'factor' has no type in project.yml, so an event may not set it \(declare it with one, e.g. factor: \{ type: date, default: null \}\)$/],
      [{ select: "fact'; drop table x; --" }, /^select must be a list of selector strings, got "fact'; drop table x; --"$/],
      [{ select: ['fact'], indirect_selection: 'lazy' }, /indirect_selection must be one of eager, cautious, buildable, empty, got "lazy"/],
      [{ select: ['fact'], indirect_selection: ['empty'] }, /indirect_selection must be one of/],
    ];
    for (const [event, message] of cases) {
      const r = await invoke(dir, event);
      expect({ event, name: r.name }).toEqual({ event, name: 'ProjectError' });
      expect(r.summary?.error).toMatch(message);
    }
    expect(await queryDuckDB(join(dir, 'target/aws.duckdb'), "select count(*) as n from information_schema.tables where table_name = 'fact'").catch(() => [{ n: '0' }])).toEqual([{ n: '0' }]);
  });

  it('names a failed test TestFailed (also when it stopped its model in the audit) and a failed model ModelFailed, with the run summary', async () => {
    const dir = project();
    writeFileSync(join(dir, 'data/orders.csv'), 'id,amount\n1,5\n1,6\n');
    const failedTest = await invoke(dir, { select: ['fact'] });
    expect(failedTest.name).toBe('TestFailed');
    expect(failedTest.summary?.results?.map((r) => [r.unique_id, r.status])).toEqual([
      ['model.lam.fact', 'error'],
      ['test.lam.unique_fact_id', 'fail'],
    ]);
    // A failing unit test stops its model (skipped), and is a test failure too.
    const unit = project();
    writeFileSync(
      join(unit, 'models/unit.yml'),
      "version: 2\nunit_tests:\n  - name: doubles\n    model: fact\n    given:\n      - input: source('landing', 'orders')\n        rows: [{ id: 1, amount: 5 }]\n    expect:\n      rows: [{ id: 1, amount: 10 }]\n",
    );
    writeFileSync(join(unit, 'models/sources.yml'), "version: 2\nsources:\n  - name: landing\n    external_location: data/orders.csv\n    tables:\n      - name: orders\n        columns: [{ name: id, data_type: INTEGER }, { name: amount, data_type: INTEGER }]\n");
    const failedUnit = await invoke(unit, { select: ['fact'] });
    expect(failedUnit.name).toBe('TestFailed');
    expect(failedUnit.summary?.results?.map((r) => [r.unique_id, r.status])).toEqual([
      ['unit_test.lam.fact.doubles', 'fail'],
      ['model.lam.fact', 'skipped'],
      ['test.lam.unique_fact_id', 'skipped'],
    ]);
    const other = project();
    writeFileSync(join(other, 'models/slow.sql'), "{{ config(materialized='table') }}\nselect * from no_such_table\n");
    const failedModel = await invoke(other, { command: 'run', select: ['slow'] });
    expect(failedModel.name).toBe('ModelFailed');
    expect(failedModel.summary?.results?.map((r) => [r.unique_id, r.status])).toEqual([['model.lam.slow', 'error']]);
  });

  it('carries the run\'s warnings in a successful result (an exclude that matched nothing)', async () => {
    const dir = project();
    const r = await invoke(dir, { select: ['fact'], exclude: ['fakt'] });
    expect(r.ok?.results.map((x) => [x.unique_id, x.status])).toEqual([
      ['model.lam.fact', 'success'],
      ['test.lam.unique_fact_id', 'pass'],
    ]);
    expect(r.ok?.warnings).toEqual(["The selection criterion 'fakt' does not match any enabled nodes"]);
    // No warning, no key.
    const quiet = await invoke(dir, { select: ['fact'] });
    expect(quiet.ok && 'warnings' in quiet.ok).toBe(false);
  });

  it('keeps a failure payload under Step Functions\' 256 KB, however large the input', async () => {
    const dir = project();
    const huge = 'x'.repeat(5_000_000);
    const r = await invoke(dir, { select: [`${huge}:y`] });
    expect(r.name).toBe('ProjectError');
    expect(r.summary?.error).toBe(`unknown selector method '${'x'.repeat(200)}… [4,999,800 more characters]' in '${'x'.repeat(200)}… [4,999,802 more characters]'`);
    // A run summary with a huge message in every result is cut to fit, and stays JSON.
    const failure = new InvocationFailure('ModelFailed', {
      error: huge,
      results: Array.from({ length: 500 }, (_, i) => ({ unique_id: `model.p.m${i}`, status: 'error', message: huge.slice(0, 10_000) })),
    });
    expect(Buffer.byteLength(failure.message)).toBeLessThan(FAILURE_LIMIT_BYTES);
    expect(Buffer.byteLength(failure.stack ?? '')).toBeLessThan(10_000);
    const summary = JSON.parse(failure.message) as { error: string; results: unknown[]; results_omitted: number };
    expect(summary.error.endsWith('… [4,967,265 more characters]')).toBe(true);
    expect(summary.results.length + summary.results_omitted).toBe(500);
  });

  it('stops before the deadline as Timeout, committing nothing', async () => {
    const dir = project();
    const r = await invoke(dir, { command: 'run', select: ['slow'] }, 400);
    expect(r.name).toBe('Timeout');
    expect(await queryDuckDB(join(dir, 'target/aws.duckdb'), "select count(*) as n from information_schema.tables where table_name = 'slow'")).toEqual([{ n: '0' }]);
  }, 30_000);

  it('names a database another process holds ConcurrentRun (Step Functions retries it)', async () => {
    const dir = project();
    mkdirSync(join(dir, 'target'), { recursive: true });
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { DuckDBInstance } from '@duckdb/node-api'; const i = await DuckDBInstance.create(${JSON.stringify(join(dir, 'target/aws.duckdb'))}); await i.connect(); console.log('held'); setInterval(() => {}, 1000);`,
      ],
      { cwd: join(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(holder);
    await new Promise<void>((resolve) => holder.stdout!.on('data', () => resolve()));
    const r = await invoke(dir, { select: ['fact'] });
    expect(r.name).toBe('ConcurrentRun');
    expect(r.summary?.error).toContain('is locked by another process');
  });
});
