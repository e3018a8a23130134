/**
 * Runs a DAG of work items with bounded concurrency. Responsible for order, the concurrency cap,
 * skipping descendants of failures, fail-fast and cancellation; not for what the work is.
 */

export type NodeStatus = 'pending' | 'running' | 'success' | 'error' | 'skipped';

export interface WorkOutcome<T> {
  readonly status: 'success' | 'error' | 'skipped';
  readonly value?: T;
  readonly error?: unknown;
  /** For skipped nodes: the failed ancestor that caused it, if any. */
  readonly skippedBecause?: string;
}

export interface ScheduleOptions<T> {
  /** Node ids in a deterministic order (topological preferred: it is the start order among ready nodes). */
  readonly nodes: readonly string[];
  /** Parents of each node, restricted to `nodes`. */
  readonly parents: ReadonlyMap<string, readonly string[]>;
  readonly concurrency: number;
  readonly failFast?: boolean;
  readonly signal?: AbortSignal;
  readonly work: (id: string, signal: AbortSignal) => Promise<T>;
  readonly onStart?: (id: string) => void;
  readonly onFinish?: (id: string, outcome: WorkOutcome<T>) => void;
}

export async function schedule<T>(options: ScheduleOptions<T>): Promise<Map<string, WorkOutcome<T>>> {
  const { nodes, parents, concurrency } = options;
  const outcomes = new Map<string, WorkOutcome<T>>();
  const status = new Map<string, NodeStatus>(nodes.map((n) => [n, 'pending']));
  const children = new Map<string, string[]>(nodes.map((n) => [n, []]));
  const waiting = new Map<string, number>();
  for (const n of nodes) {
    const ps = (parents.get(n) ?? []).filter((p) => status.has(p));
    waiting.set(n, ps.length);
    for (const p of ps) children.get(p)!.push(n);
  }
  const order = new Map(nodes.map((n, i) => [n, i]));
  const ready: string[] = nodes.filter((n) => waiting.get(n) === 0);
  const internal = new AbortController();
  /** With failFast: the failure that stopped the run. What it stops is skipped because of it, not failed. */
  let stoppedBy: string | undefined;
  const stop = () => internal.abort();
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) internal.abort();

  const finish = (id: string, outcome: WorkOutcome<T>) => {
    status.set(id, outcome.status);
    outcomes.set(id, outcome);
    options.onFinish?.(id, outcome);
  };
  const skipDescendants = (id: string, cause: string) => {
    const stack = [...children.get(id)!];
    while (stack.length > 0) {
      const c = stack.pop()!;
      if (status.get(c) !== 'pending') continue;
      finish(c, { status: 'skipped', skippedBecause: cause });
      stack.push(...children.get(c)!);
    }
  };

  let running = 0;
  await new Promise<void>((resolveAll) => {
    const pump = () => {
      if (internal.signal.aborted) {
        for (const n of nodes) if (status.get(n) === 'pending') finish(n, { status: 'skipped', skippedBecause: stoppedBy });
        ready.length = 0;
      }
      while (running < concurrency && ready.length > 0) {
        ready.sort((a, b) => order.get(a)! - order.get(b)!);
        const id = ready.shift()!;
        if (status.get(id) !== 'pending') continue;
        status.set(id, 'running');
        running++;
        options.onStart?.(id);
        options
          .work(id, internal.signal)
          .then(
            (value) => finish(id, { status: 'success', value }),
            (error) => {
              if (stoppedBy !== undefined && !options.signal?.aborted) {
                // Running when fail-fast stopped the run: its error is the stop, a consequence of
                // the failure that caused it, which is the one to report.
                finish(id, { status: 'skipped', skippedBecause: stoppedBy });
                skipDescendants(id, stoppedBy);
                return;
              }
              finish(id, { status: 'error', error });
              skipDescendants(id, id);
              if (options.failFast && stoppedBy === undefined) {
                stoppedBy = id;
                internal.abort();
              }
            },
          )
          .finally(() => {
            running--;
            for (const c of children.get(id)!) {
              const left = waiting.get(c)! - 1;
              waiting.set(c, left);
              if (left === 0 && status.get(c) === 'pending') ready.push(c);
            }
            pump();
          });
      }
      if (running === 0 && ready.length === 0) resolveAll();
    };
    pump();
  });
  options.signal?.removeEventListener('abort', stop);
  // Nodes never reached (their parents were skipped before they could be queued).
  for (const n of nodes) if (status.get(n) === 'pending') finish(n, { status: 'skipped', skippedBecause: stoppedBy });
  return outcomes;
}
