import { describe, expect, it } from 'vitest';
import { openProject, selectFrom } from '../../runtime/index.js';
import { stateMachineFor } from '../../adapters/stepfunctions/state-machine.js';
import { parseArgs } from '../../adapters/cli/args.js';
import { writeTempProject } from '../helpers/temp-project.js';

/** `smelter stepfunctions --max-concurrency N`: the MaxConcurrency of a backfill's Map over microbatch batches. */
describe('the backfill Map\'s MaxConcurrency', () => {
  const dir = writeTempProject({
    'project.yml': 'name: mc\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake }\n',
    'models/sources.yml': 'version: 2\nsources:\n  - name: raw\n    tables:\n      - name: events\n        config: { event_time: ts }\n',
    'models/daily.sql':
      "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='day', batch_size='day', begin='2024-06-01', external=true) }}\nselect cast(ts as date) as day from {{ source('raw', 'events') }}\n",
  });
  const mapOf = (maxConcurrency: number | undefined) => {
    const p = openProject({ projectDir: dir, env: {} });
    const { nodes } = selectFrom(p, { projectDir: dir, env: {} }, ['model', 'test', 'unit_test']);
    const definition = stateMachineFor(p.manifest, p.dag, new Set(nodes.map((n) => n.unique_id)), {
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:smelter',
      granularity: 'level',
      eventTimeStart: new Date('2024-06-01T00:00:00Z'),
      eventTimeEnd: new Date('2024-06-04T00:00:00Z'),
      maxConcurrency,
    }) as { States: Record<string, { Branches?: Array<{ States: Record<string, { Type: string; MaxConcurrency?: number }> }> }> };
    const branch = definition.States.level_1.Branches![0].States;
    return Object.values(branch).find((s) => s.Type === 'Map')!;
  };

  it('is 4 by default, else what the option says (0: no limit)', () => {
    expect(mapOf(undefined).MaxConcurrency).toBe(4);
    expect(mapOf(1).MaxConcurrency).toBe(1);
    expect(mapOf(0).MaxConcurrency).toBe(0);
  });

  it('the CLI takes --max-concurrency as a whole number', () => {
    const base = ['stepfunctions', '--function-arn', 'arn'];
    expect(parseArgs(base).maxConcurrency).toBeUndefined();
    expect(parseArgs([...base, '--max-concurrency', '2']).maxConcurrency).toBe(2);
    expect(() => parseArgs([...base, '--max-concurrency', '1.5'])).toThrow("--max-concurrency must be a whole number (0: no limit), got '1.5'");
    expect(() => parseArgs([...base, '--max-concurrency', 'two'])).toThrow('--max-concurrency must be a whole number');
  });
});
