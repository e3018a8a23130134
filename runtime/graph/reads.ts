import type { Manifest } from '../manifest/types.js';

/**
 * The nodes `id` reads: its direct dependencies, and through an ephemeral model (inlined as a CTE,
 * so its reads are the reader's) what that model reads. Ephemeral models are listed too.
 */
export function nodesRead(manifest: Manifest, id: string): string[] {
  const seen = new Set<string>();
  const visit = (nodeId: string) => {
    for (const dep of manifest.nodes[nodeId]?.depends_on.nodes ?? []) {
      if (seen.has(dep)) continue;
      seen.add(dep);
      const node = manifest.nodes[dep];
      if (node?.resource_type === 'model' && node.config.materialized === 'ephemeral') visit(dep);
    }
  };
  visit(id);
  return [...seen];
}
