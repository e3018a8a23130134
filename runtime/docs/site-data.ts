/**
 * What the docs site receives: everything `smelter docs generate` knows about a project, embedded
 * in target/index.html as one JSON document. Every part but the manifest may be missing (no run
 * yet, no state, no catalog): the page says so instead of failing.
 */
import type { Manifest } from '../manifest/types.js';

/** One read of a relation no `ref()`/`source()` declares, with what to write instead. */
export interface UndeclaredDependency {
  /** The relation as the SQL names it, e.g. `gold.dim_member`. */
  readonly relation: string;
  /** The unique_id of the node that builds that relation. */
  readonly node: string;
  /** What to write instead, e.g. `{{ ref('dim_member') }}`. */
  readonly suggestion: string;
}

/** A model's committed state, as `smelter state show` reads it. */
export interface DocsNodeState {
  readonly watermark?: unknown;
  readonly rows?: number;
  readonly version?: number;
  readonly batches?: unknown;
  readonly committed_at?: string;
}

/** One upstream column of a model's column: `column_lineage[<column>]` lists these. */
export interface ColumnRef {
  readonly node: string;
  readonly column: string;
}

export interface DocsSiteData {
  /** smelter's internal Manifest: the browser runs `selectNodes` on it, as the CLI does. */
  readonly manifest: Manifest;
  /**
   * target/manifest.json's object (`manifestArtifact`), for display: nodes' raw_code,
   * compiled_code, columns, description and `column_lineage: { <column>: ColumnRef[] }`.
   */
  readonly artifact: unknown;
  /** catalog.json in dbt's shape: `{ nodes: { [id]: { metadata, columns: { [name]: { type, index, name, comment } }, stats } }, sources }`. */
  readonly catalog: unknown;
  /** target/run_results.json of the last run (`runResultsArtifact`). */
  readonly runResults?: unknown;
  /** Committed state per model unique_id. */
  readonly state?: Readonly<Record<string, DocsNodeState>>;
  /** Undeclared dependencies per model unique_id. */
  readonly undeclared?: Readonly<Record<string, readonly UndeclaredDependency[]>>;
  /** ISO 8601. */
  readonly generatedAt: string;
}

/** The `<script type="application/json">` element's id the page reads its data from. */
export const DOCS_DATA_ELEMENT_ID = 'smelter-docs-data';
