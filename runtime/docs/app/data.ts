/**
 * The embedded DocsSiteData, read once, with typed lookups into the parts that are `unknown` in
 * DocsSiteData (manifest.json, catalog.json, run_results.json): each lookup tolerates the part
 * being absent or shaped differently, so an old or partial artifact shows less, never breaks.
 */
import { buildDag, type Dag } from '../../graph/dag.js';
import type { ManifestNode } from '../../manifest/types.js';
import { indexColumnLineage, type ColumnLineageIndex } from '../column-lineage.js';
import { DOCS_DATA_ELEMENT_ID, type DocsNodeState, type DocsSiteData, type UndeclaredDependency } from '../site-data.js';

export interface ArtifactNode {
  readonly raw_code?: string;
  readonly compiled_code?: string;
  readonly description?: string;
  readonly columns?: Record<string, { name?: string; description?: string; data_type?: string }>;
  readonly config?: Record<string, unknown>;
  readonly relation_name?: string;
}

export interface CatalogColumn {
  readonly type?: string;
  readonly index?: number;
  readonly name?: string;
  readonly comment?: string | null;
}

export interface RunResultEntry {
  readonly unique_id: string;
  readonly status?: string;
  readonly execution_time?: number;
  readonly message?: string | null;
  readonly failures?: number | null;
  readonly adapter_response?: { rows_affected?: number };
}

export class SiteData {
  readonly dag: Dag;
  readonly lineage: ColumnLineageIndex;
  private readonly artifactNodes: Record<string, ArtifactNode>;
  private readonly catalogNodes: Record<string, { columns?: Record<string, CatalogColumn>; stats?: Record<string, unknown> }>;
  private readonly results = new Map<string, RunResultEntry>();
  /** Tests and unit tests by the node they test. */
  private readonly testsByNode = new Map<string, ManifestNode[]>();

  constructor(readonly raw: DocsSiteData) {
    this.dag = buildDag(raw.manifest);
    const artifact = (raw.artifact ?? {}) as { nodes?: Record<string, ArtifactNode>; sources?: Record<string, ArtifactNode> };
    this.artifactNodes = { ...artifact.sources, ...artifact.nodes };
    const catalog = (raw.catalog ?? {}) as { nodes?: SiteData['catalogNodes']; sources?: SiteData['catalogNodes'] };
    this.catalogNodes = { ...catalog.sources, ...catalog.nodes };
    this.lineage = indexColumnLineage(this.artifactNodes);
    const results = (raw.runResults as { results?: unknown } | undefined)?.results;
    if (Array.isArray(results)) for (const r of results as RunResultEntry[]) if (typeof r?.unique_id === 'string') this.results.set(r.unique_id, r);
    for (const node of Object.values(raw.manifest.nodes)) {
      const tested = node.resource_type === 'unit_test' ? [node.model] : node.resource_type === 'test' ? (node.attached_node ? [node.attached_node] : node.depends_on.nodes) : [];
      for (const id of tested) this.testsByNode.set(id, [...(this.testsByNode.get(id) ?? []), node]);
    }
  }

  /** Reads the JSON the HTML embeds. */
  static fromPage(): SiteData {
    const element = document.getElementById(DOCS_DATA_ELEMENT_ID);
    if (element === null) throw new Error(`the page has no #${DOCS_DATA_ELEMENT_ID} element`);
    return new SiteData(JSON.parse(element.textContent ?? '') as DocsSiteData);
  }

  node(id: string): ManifestNode | undefined {
    return this.raw.manifest.nodes[id];
  }
  artifactNode(id: string): ArtifactNode | undefined {
    return this.artifactNodes[id];
  }
  catalogColumns(id: string): Record<string, CatalogColumn> {
    return this.catalogNodes[id]?.columns ?? {};
  }
  catalogStats(id: string): Record<string, unknown> | undefined {
    return this.catalogNodes[id]?.stats;
  }
  result(id: string): RunResultEntry | undefined {
    return this.results.get(id);
  }
  tests(id: string): readonly ManifestNode[] {
    return this.testsByNode.get(id) ?? [];
  }
  state(id: string): DocsNodeState | undefined {
    return this.raw.state?.[id];
  }
  undeclared(id: string): readonly UndeclaredDependency[] {
    return this.raw.undeclared?.[id] ?? [];
  }
  /** The name a reader knows a node by: `source.table` for sources. */
  label(id: string): string {
    const node = this.node(id);
    if (node === undefined) return id;
    return node.resource_type === 'source' ? `${node.source_name}.${node.name}` : node.name;
  }
}
