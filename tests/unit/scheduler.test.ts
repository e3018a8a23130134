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

  describe('lookahead: preparing the next node while the running one works', () => {
    /** A log of what happened, in order, and work that takes `ms` (while the next node prepares). */
    const harness = (fail: { prepare?: string; work?: string } = {}) => {
      const log: string[] = [];
      let running = 0;
      let peak = 0;
      return {
        log,
        peak: () => peak,
        options: {
          concurrency: 1,
          lookahead: 1,
          onStart: (id: string) => log.push(`start ${id}`),
          onFinish: (id: string, o: WorkOutcome<string>) => log.push(`finish ${id} ${o.status}${o.skippedBecause ? ` (${o.skippedBecause})` : ''}`),
          prepare: async (id: string) => {
            log.push(`prepare ${id}`);
            if (fail.prepare === id) throw new Error(`${id} does not compile`);
            return `${id}-prepared`;
          },
          work: async (id: string, _signal: AbortSignal, prepared: string | undefined) => {
            running++;
            peak = Math.max(peak, running);
            log.push(`work ${id} with ${prepared}`);
            await tick();
            running--;
            if (fail.work === id) throw new Error('boom');
            return id;
          },
        },
      };
    };

    it('prepares the next ready node during the running one, and starts and finishes nodes one at a time in order', async () => {
      const h = harness();
      await schedule({ nodes: NODES, parents: PARENTS, ...h.options });
      expect(h.peak()).toBe(1);
      // a runs while e (ready, next in order) prepares; b and c become ready when a finishes.
      expect(h.log).toEqual([
        'prepare a', 'start a', 'work a with a-prepared', 'prepare e', 'finish a success',
        'start e', 'work e with e-prepared', 'prepare b', 'finish e success',
        'start b', 'work b with b-prepared', 'prepare c', 'finish b success',
        'start c', 'work c with c-prepared', 'prepare d', 'finish c success',
        'start d', 'work d with d-prepared', 'finish d success',
      ]);
    });

    it('reports a failed prepare in the node’s turn, after the node before it finished, and skips its descendants', async () => {
      const h = harness({ prepare: 'b' });
      const outcomes = await schedule({ nodes: NODES, parents: PARENTS, ...h.options });
      expect(outcomes.get('b')).toMatchObject({ status: 'error', error: new Error('b does not compile') });
      expect(outcomes.get('d')).toEqual({ status: 'skipped', skippedBecause: 'b' });
      expect(h.log).not.toContain('work b with b-prepared');
      expect(h.log.indexOf('start b')).toBeGreaterThan(h.log.indexOf('finish e success'));
      expect(h.log.indexOf('finish b error')).toBeLessThan(h.log.indexOf('start c'));
    });

    it('with failFast, a node prepared ahead never starts: skipped because of the failure', async () => {
      const h = harness({ work: 'a' });
      const outcomes = await schedule({ nodes: NODES, parents: PARENTS, failFast: true, ...h.options });
      expect(h.log).toContain('prepare e');
      expect(h.log).not.toContain('start e');
      expect(outcomes.get('e')).toEqual({ status: 'skipped', skippedBecause: 'a' });
      expect([...outcomes.values()].filter((o) => o.status === 'skipped')).toHaveLength(4);
    });

    it('after the caller aborts, a node prepared ahead never starts and is skipped', async () => {
      const controller = new AbortController();
      const h = harness();
      const outcomes = await schedule({
        nodes: NODES,
        parents: PARENTS,
        signal: controller.signal,
        ...h.options,
        onStart: (id) => {
          h.log.push(`start ${id}`);
          if (id === 'a') controller.abort();
        },
      });
      expect(h.log.filter((l) => l.startsWith('start'))).toEqual(['start a']);
      expect(outcomes.get('a')).toEqual({ status: 'success', value: 'a' });
      expect(outcomes.get('e')).toEqual({ status: 'skipped', skippedBecause: undefined });
    });
  });
});
