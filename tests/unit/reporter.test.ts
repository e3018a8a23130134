import { describe, expect, it } from 'vitest';
import { createRunReporter, formatNodeLine, groupThousands, type Output } from '../../adapters/cli/reporter.js';
import type { NodeResult, RunResult } from '../../runtime/index.js';

function capture(tty: boolean) {
  const log: string[] = [];
  const output: Output = {
    out: (line) => log.push(`out ${line}`),
    err: (line) => log.push(`err ${line}`),
    status: (text) => log.push(`status ${text}`),
    tty,
  };
  return { log, output };
}

const result = (name: string, over: Partial<NodeResult> = {}): NodeResult => ({
  unique_id: `model.p.${name}`,
  name,
  resource_type: 'model',
  kind: 'table',
  relation: `main.${name}`,
  status: 'success',
  rows: 1250,
  seconds: 0.42,
  timing: [],
  ...over,
});

const finished = (results: NodeResult[]): RunResult => ({ invocation_id: 'i', started_at: '', elapsed_seconds: 1.5, results, interrupted: false });

describe('run reporter', () => {
  it('formats a node line as SPEC §8 shows it', () => {
    expect(formatNodeLine(result('fact_ptr_transactions', { relation: 'gold.fact_ptr_transactions', kind: 'incremental' }), 3, 7)).toBe(
      '3 of 7 OK incremental gold.fact_ptr_transactions ........... [1,250 rows in 0.42s]',
    );
    expect(formatNodeLine(result('v', { kind: 'view', rows: undefined }), 1, 2)).toBe('1 of 2 OK view main.v ...................................... [OK in 0.42s]');
    expect(formatNodeLine(result('x', { status: 'error' }), 2, 2)).toBe('2 of 2 ERROR table main.x .................................. [ERROR in 0.42s]');
  });

  it('groups thousands as en-US does', () => {
    for (const n of [0, 7, 999, 1000, 1250, 100000, 1234567, 10000000, -1234567]) expect(groupThousands(n)).toBe(n.toLocaleString('en-US'));
  });

  it('on a terminal keeps a live progress line and clears it before each finished line', () => {
    const { log, output } = capture(true);
    const report = createRunReporter(output, 'text', 'model');
    report({ type: 'run_start', total: 2, threads: 2 });
    report({ type: 'node_start', unique_id: 'model.p.a', running: ['model.p.a'] });
    report({ type: 'node_start', unique_id: 'model.p.b', running: ['model.p.a', 'model.p.b'] });
    report({ type: 'node_finish', result: result('a'), index: 1, total: 2, running: ['model.p.b'] });
    report({ type: 'node_finish', result: result('b'), index: 2, total: 2, running: [] });
    report({ type: 'run_finish', result: finished([result('a'), result('b')]) });
    expect(log).toEqual([
      'out Running 2 models with 2 threads',
      'status [0/2] running: a',
      'status [0/2] running: a, b',
      'status ',
      `out ${formatNodeLine(result('a'), 1, 2)}`,
      'status [1/2] running: b',
      'status ',
      `out ${formatNodeLine(result('b'), 2, 2)}`,
      'out Finished 2 models in 1.50s: 2 OK, 0 ERROR, 0 SKIP',
    ]);
  });

  it('off a terminal prints no progress line', () => {
    const { log, output } = capture(false);
    const report = createRunReporter(output, 'text', 'model');
    report({ type: 'run_start', total: 1, threads: 1 });
    report({ type: 'node_start', unique_id: 'model.p.a', running: ['model.p.a'] });
    report({ type: 'node_finish', result: result('a'), index: 1, total: 1, running: [] });
    expect(log.filter((l) => l.startsWith('status'))).toEqual([]);
  });
});
