/**
 * The graph's layout by dagre, as plain data in and out so it runs the same in a worker (large
 * graphs) and on the page (small ones).
 */
import dagre from '@dagrejs/dagre';

export interface LayoutInput {
  readonly nodes: ReadonlyArray<{ readonly id: string; readonly width: number; readonly height: number }>;
  readonly edges: ReadonlyArray<readonly [string, string]>;
}

export interface Point {
  readonly x: number;
  readonly y: number;
}

export interface LayoutResult {
  readonly width: number;
  readonly height: number;
  /** Each node's centre. */
  readonly nodes: Readonly<Record<string, Point>>;
  /** Each edge's polyline, in the order of `LayoutInput.edges`. */
  readonly edges: ReadonlyArray<readonly Point[]>;
}

/**
 * Above this many nodes, the longest-path ranker and no second ordering pass: dagre's network
 * simplex takes about a minute on 1,000 nodes, longest-path well under a second.
 */
export const FAST_LAYOUT_ABOVE = 200;

export function layoutGraph(input: LayoutInput): LayoutResult {
  const large = input.nodes.length > FAST_LAYOUT_ABOVE;
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 12, ranksep: 56, marginx: 16, marginy: 16, ranker: large ? 'longest-path' : 'network-simplex' });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of input.nodes) g.setNode(n.id, { width: n.width, height: n.height });
  for (const [from, to] of input.edges) g.setEdge(from, to);
  dagre.layout(g, { disableOptimalOrderHeuristic: large });
  const nodes: Record<string, Point> = {};
  for (const n of input.nodes) {
    const box = g.node(n.id);
    nodes[n.id] = { x: box.x ?? 0, y: box.y ?? 0 };
  }
  const edges = input.edges.map(([from, to]) => (g.edge(from, to).points ?? []).map((p: Point) => ({ x: p.x, y: p.y })));
  const size = g.graph();
  return { width: size.width ?? 0, height: size.height ?? 0, nodes, edges };
}
