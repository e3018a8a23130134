/**
 * Which nodes the docs graph draws: what holds data (models — ephemeral ones and snapshots
 * included — seeds and sources). Tests and unit tests are shown on the page of the node they test.
 */
import type { Manifest, ManifestNode } from '../manifest/types.js';

export const GRAPH_RESOURCE_TYPES: readonly string[] = ['model', 'seed', 'source'];

export function isGraphNode(node: ManifestNode): boolean {
  return GRAPH_RESOURCE_TYPES.includes(node.resource_type);
}

/** unique_ids of the nodes the graph draws, sorted. */
export function graphNodeIds(manifest: Manifest): string[] {
  return Object.values(manifest.nodes).filter(isGraphNode).map((n) => n.unique_id).sort();
}
