import graphology from 'graphology';
import type { Manifest } from '../manifest/types.js';

const { DirectedGraph } = graphology;
export type Dag = InstanceType<typeof DirectedGraph>;

/**
 * The dependency graph of a Manifest's enabled nodes: an edge runs from a node to each node that
 * depends on it (parent -> child), so descendants are the nodes a failure must skip.
 */
export function buildDag(manifest: Manifest): Dag {
  const graph = new DirectedGraph();
  for (const id of Object.keys(manifest.nodes)) graph.addNode(id);
  for (const node of Object.values(manifest.nodes)) {
    // depends_on lists each parent once (parse dedupes), so no edge can be added twice.
    for (const parent of node.depends_on.nodes) {
      if (graph.hasNode(parent)) graph.addDirectedEdge(parent, node.unique_id);
    }
  }
  return graph;
}

/**
 * One cycle of the graph as a closed path (`[a, b, a]`), or undefined if the graph is acyclic.
 * Iterative DFS with colours, so deep projects cannot overflow the stack.
 */
export function findCycle(graph: Dag): string[] | undefined {
  const ids = graph.nodes();
  const index = new Map(ids.map((id, i) => [id, i]));
  const cycle = findCycleIn(ids.length, (n) => graph.outNeighbors(ids[n]).map((child) => index.get(child)!));
  return cycle?.map((i) => ids[i]);
}

/**
 * The same search over a Manifest's depends_on, without building a graph: parse checks for cycles
 * on every invocation, while most `ls` and `compile` invocations never walk the graph. Nodes are
 * numbered so the search runs over arrays (a tenth of the time of string-keyed maps at 10,000
 * models); children come in the order buildDag gives them, so both report the same cycle.
 */
export function findManifestCycle(manifest: Manifest): string[] | undefined {
  const ids = Object.keys(manifest.nodes);
  const index = new Map<string, number>();
  ids.forEach((id, i) => index.set(id, i));
  const children: number[][] = ids.map(() => []);
  ids.forEach((id, i) => {
    for (const parent of manifest.nodes[id].depends_on.nodes) {
      const p = index.get(parent);
      if (p !== undefined) children[p].push(i);
    }
  });
  const cycle = findCycleIn(ids.length, (n) => children[n]);
  return cycle?.map((i) => ids[i]);
}

/** Depth-first search over nodes 0..count-1; the cycle as node numbers. */
function findCycleIn(count: number, childrenOf: (n: number) => readonly number[]): number[] | undefined {
  const colour = new Uint8Array(count); // 0 unvisited, 1 on the stack, 2 done
  const parentOf = new Int32Array(count);
  for (let start = 0; start < count; start++) {
    if (colour[start] !== 0) continue;
    const stack: Array<{ node: number; children: readonly number[]; next: number }> = [{ node: start, children: childrenOf(start), next: 0 }];
    colour[start] = 1;
    while (stack.length > 0) {
      const frame = stack[stack.length - 1];
      if (frame.next >= frame.children.length) {
        colour[frame.node] = 2;
        stack.pop();
        continue;
      }
      const child = frame.children[frame.next++];
      if (colour[child] === 0) {
        colour[child] = 1;
        parentOf[child] = frame.node;
        stack.push({ node: child, children: childrenOf(child), next: 0 });
      } else if (colour[child] === 1) {
        const path = [child];
        for (let at = frame.node; at !== child; at = parentOf[at]) path.push(at);
        path.push(child);
        // path was collected walking back from the closing edge; flip to dependency order.
        return path.reverse();
      }
    }
  }
  return undefined;
}

/** Nodes in an order where every node comes after all of its parents (Kahn's algorithm). */
export function topologicalOrder(graph: Dag, subset?: ReadonlySet<string>): string[] {
  const inside = (n: string) => subset === undefined || subset.has(n);
  const indegree = new Map<string, number>();
  for (const n of graph.nodes()) {
    if (!inside(n)) continue;
    indegree.set(n, graph.inNeighbors(n).filter(inside).length);
  }
  const queue = [...indegree].filter(([, d]) => d === 0).map(([n]) => n).sort();
  const order: string[] = [];
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i];
    order.push(n);
    for (const child of graph.outNeighbors(n)) {
      if (!inside(child)) continue;
      const d = indegree.get(child)! - 1;
      indegree.set(child, d);
      if (d === 0) queue.push(child);
    }
  }
  return order;
}

/** All ancestors of `id`, up to `depth` generations (Infinity: all). */
export function ancestors(graph: Dag, id: string, depth = Infinity): Set<string> {
  return walk(graph, id, depth, (n) => graph.inNeighbors(n));
}

/** All descendants of `id`, up to `depth` generations (Infinity: all). */
export function descendants(graph: Dag, id: string, depth = Infinity): Set<string> {
  return walk(graph, id, depth, (n) => graph.outNeighbors(n));
}

function walk(graph: Dag, id: string, depth: number, next: (n: string) => string[]): Set<string> {
  const seen = new Set<string>();
  if (!graph.hasNode(id)) return seen;
  let frontier = [id];
  for (let level = 0; level < depth && frontier.length > 0; level++) {
    const following: string[] = [];
    for (const n of frontier) {
      for (const m of next(n)) {
        if (!seen.has(m)) {
          seen.add(m);
          following.push(m);
        }
      }
    }
    frontier = following;
  }
  seen.delete(id);
  return seen;
}
