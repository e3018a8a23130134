import { describe, expect, it } from 'vitest';
import { schedule, type WorkOutcome } from '../../runtime/execute/scheduler.js';

// a -> b -> d, a -> c, e (independent)
const NODES = ['a', 'b', 'c', 'd', 'e'];
const PARENTS = new Map([
  ['b', ['a']],
  ['c', ['a']],
  ['d', ['b']],
]);

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('scheduler', () => {
  it('runs parents before children and never exceeds the concurrency cap', async () => {
    const started: string[] = [];
    const done = new Set<string>();
    let running = 0;
    let peak = 0;
    const outcomes = await schedule({
      nodes: NODES,
      parents: PARENTS,
      concurrency: 2,
      work: async (id) => {
        for (const p of PARENTS.get(id) ?? []) expect(done.has(p)).toBe(true);
        started.push(id);
        running++;
        peak = Math.max(peak, running);
        await tick();
        running--;
        done.add(id);
        return id.toUpperCase();
      },
    });
    expect(peak).toBe(2);
    expect(started).toEqual(['a', 'e', 'b', 'c', 'd']);
    expect([...outcomes].map(([id, o]) => [id, o.status, o.value])).toEqual(
      expect.arrayContaining([
        ['a', 'success', 'A'],
        ['d', 'success', 'D'],
      ]),
    );
  });

  it('skips every descendant of a failure and runs the rest', async () => {
    const outcomes = await schedule({
      nodes: NODES,
      parents: PARENTS,
      concurrency: 1,
      work: async (id) => {
        if (id === 'b') throw new Error('boom');
        return id;
      },
    });
    const summary = Object.fromEntries([...outcomes].map(([id, o]: [string, WorkOutcome<string>]) => [id, [o.status, o.skippedBecause]]));
    expect(summary).toEqual({
      a: ['success', undefined],
      b: ['error', undefined],
      c: ['success', undefined],
      d: ['skipped', 'b'],
      e: ['success', undefined],
    });
  });

  it('stops starting work after the first failure with failFast, and aborts running work', async () => {
    const aborted: string[] = [];
    const outcomes = await schedule({
      nodes: ['slow', 'fails', 'later'],
      parents: new Map([['later', ['fails']]]),
      concurrency: 2,
      failFast: true,
      work: async (id, signal) => {
        if (id === 'fails') throw new Error('boom');
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, 2000);
          signal.addEventListener('abort', () => {
            clearTimeout(t);
            aborted.push(id);
            reject(new Error('interrupted'));
          });
        });
        return id;
      },
    });
    expect(aborted).toEqual(['slow']);
    // What fail-fast stops is skipped because of the failure, not reported as a failure of its own.
    expect(outcomes.get('slow')).toEqual({ status: 'skipped', skippedBecause: 'fails' });
    expect(outcomes.get('later')).toEqual({ status: 'skipped', skippedBecause: 'fails' });
  });

  it('starts nothing after the caller aborts', async () => {
    const controller = new AbortController();
    const ran: string[] = [];
    const outcomes = await schedule({
      nodes: NODES,
      parents: PARENTS,
      concurrency: 1,
      signal: controller.signal,
      work: async (id) => {
        ran.push(id);
        if (id === 'a') controller.abort();
        return id;
      },
    });
    expect(ran).toEqual(['a']);
    expect([...outcomes.values()].filter((o) => o.status === 'skipped').length).toBe(4);
  });
});
