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

export interface ScheduleOptions<T, P = never> {
  /** Node ids in a deterministic order (topological preferred: it is the start order among ready nodes). */
  readonly nodes: readonly string[];
  /** Parents of each node, restricted to `nodes`. */
  readonly parents: ReadonlyMap<string, readonly string[]>;
  readonly concurrency: number;
  readonly failFast?: boolean;
  readonly signal?: AbortSignal;
  readonly work: (id: string, signal: AbortSignal, prepared: P | undefined) => Promise<T>;
  /**
   * Work a node may do before its turn, while the running nodes wait on something else (a
   * database): it runs for up to `lookahead` nodes beyond those running, in start order, and its
   * result goes to `work` when the node's turn comes. It must hold nothing that needs releasing: a
   * node stopped before its turn drops it. A node whose prepare throws reports that error in its
   * turn, as if its work had thrown it.
   */
  readonly prepare?: (id: string, signal: AbortSignal) => Promise<P>;
  readonly lookahead?: number;
  /** A node's turn began (its work is called next); nodes stopped before their turn never start. */
  readonly onStart?: (id: string) => void;
  readonly onFinish?: (id: string, outcome: WorkOutcome<T>) => void;
}

export async function schedule<T, P = never>(options: ScheduleOptions<T, P>): Promise<Map<string, WorkOutcome<T>>> {
  const { nodes, parents, concurrency } = options;
  const lookahead = options.prepare ? Math.max(0, options.lookahead ?? 0) : 0;
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

  /** Nodes taken from `ready`, in start order, waiting for their turn (and their prepare). */
  const waitingTurn: Array<{ readonly id: string; settled: boolean; prepared?: P; failure?: { error: unknown } }> = [];
  let running = 0;
  await new Promise<void>((resolveAll) => {
    const startWork = (id: string, prepared: P | undefined, failure: { error: unknown } | undefined) => {
      status.set(id, 'running');
      running++;
      options.onStart?.(id);
      (failure ? Promise.reject(failure.error) : options.work(id, internal.signal, prepared))
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
    };
    const pump = () => {
      if (internal.signal.aborted) {
        for (const n of nodes) if (status.get(n) === 'pending') finish(n, { status: 'skipped', skippedBecause: stoppedBy });
        ready.length = 0;
        waitingTurn.length = 0;
      }
      // Turns first, in start order: the next node's statements go to the database before this
      // thread prepares any other node, so that preparing overlaps them.
      while (running < concurrency && waitingTurn.length > 0 && waitingTurn[0].settled) {
        const next = waitingTurn.shift()!;
        startWork(next.id, next.prepared, next.failure);
      }
      while (running + waitingTurn.length < concurrency + lookahead && ready.length > 0) {
        ready.sort((a, b) => order.get(a)! - order.get(b)!);
        const id = ready.shift()!;
        if (status.get(id) !== 'pending') continue;
        if (!options.prepare) {
          startWork(id, undefined, undefined);
          continue;
        }
        const entry: (typeof waitingTurn)[number] = { id, settled: false };
        waitingTurn.push(entry);
        // Prepared on a later turn of the event loop, once the statements just started are on
        // their way; a node stopped meanwhile (it is no longer waiting) is not prepared.
        setImmediate(() => {
          if (!waitingTurn.includes(entry)) return;
          options.prepare!(id, internal.signal).then(
            (prepared) => Object.assign(entry, { settled: true, prepared }),
            (error: unknown) => Object.assign(entry, { settled: true, failure: { error } }),
          ).finally(pump);
        });
      }
      if (running === 0 && ready.length === 0 && waitingTurn.length === 0) resolveAll();
    };
    pump();
  });
  options.signal?.removeEventListener('abort', stop);
  // Nodes never reached (their parents were skipped before they could be queued).
  for (const n of nodes) if (status.get(n) === 'pending') finish(n, { status: 'skipped', skippedBecause: stoppedBy });
  return outcomes;
}
