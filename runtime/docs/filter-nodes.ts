/**
 * The docs filter box: dbt's selection grammar through the CLI's own `selectNodes` (bundled into
 * the page, not a second implementation), and a search by name when a plain word selects nothing.
 */
import type { Dag } from '../graph/dag.js';
import type { Manifest } from '../manifest/types.js';
import { selectNodes } from '../select/select.js';
import { GRAPH_RESOURCE_TYPES, graphNodeIds } from './graph-nodes.js';

export type FilterResult =
  | { readonly kind: 'all'; readonly ids: readonly string[] }
  | { readonly kind: 'selector'; readonly ids: readonly string[] }
  /** A plain word that selects nothing: the nodes whose name contains it (case-insensitive). */
  | { readonly kind: 'name'; readonly ids: readonly string[] }
  /** A malformed expression: the selector's own message, and no nodes. */
  | { readonly kind: 'error'; readonly ids: readonly string[]; readonly message: string };

const PLAIN_WORD = /^[A-Za-z0-9_.-]+$/;

/** The graph nodes (models, seeds, sources) `text` leaves, sorted by unique_id. */
export function filterGraphNodes(manifest: Manifest, dag: Dag, text: string): FilterResult {
  const expression = text.trim();
  if (expression === '') return { kind: 'all', ids: graphNodeIds(manifest) };
  let selected: ReadonlySet<string>;
  try {
    // `empty`: tests are not drawn, so the ones a selection brings along would only be dropped.
    selected = selectNodes(manifest, dag, { select: [expression], exclude: [], indirectSelection: 'empty', resourceTypes: GRAPH_RESOURCE_TYPES }).selected;
  } catch (error) {
    return { kind: 'error', ids: [], message: error instanceof Error ? error.message : String(error) };
  }
  if (selected.size === 0 && PLAIN_WORD.test(expression)) {
    const word = expression.toLowerCase();
    const ids = graphNodeIds(manifest).filter((id) => manifest.nodes[id].name.toLowerCase().includes(word));
    return { kind: 'name', ids };
  }
  return { kind: 'selector', ids: [...selected].sort() };
}
