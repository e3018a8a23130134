import { basename, extname } from 'node:path';
import type { Manifest, ManifestNode } from '../manifest/types.js';
import type { TargetConfig } from '../project/project-config.js';

/** The command a render belongs to: dbt's `flags.WHICH`. */
export type RenderCommand = 'run' | 'build' | 'compile' | 'test' | 'seed' | 'snapshot' | 'parse' | 'show' | 'run-operation';

/** dbt's `flags` as templates read them. */
export interface RenderFlags {
  readonly which: RenderCommand;
  readonly fullRefresh?: boolean;
  readonly storeFailures?: boolean;
}

export function flagsContext(flags: RenderFlags | undefined): Record<string, unknown> {
  return {
    WHICH: flags?.which ?? 'parse',
    FULL_REFRESH: flags?.fullRefresh ?? false,
    STORE_FAILURES: flags?.storeFailures ?? false,
    EMPTY: false,
    WARN_ERROR: false,
    DEBUG: false,
  };
}

/** The DuckDB catalog a target's database attaches as: the file's name without its extension, `memory` in memory. */
export function catalogName(target: TargetConfig): string {
  if (target.database === ':memory:' || target.databasePath === ':memory:') return 'memory';
  return basename(target.databasePath, extname(target.databasePath));
}

/** `target`: dbt's target for a DuckDB profile (and smelter's own keys). */
export function targetContext(target: TargetConfig): Record<string, unknown> {
  return {
    name: target.name,
    type: 'duckdb',
    database: catalogName(target),
    schema: target.schema,
    path: target.databasePath,
    profile_name: target.profileName ?? null,
    threads: target.threads,
    storage: target.storage ?? null,
  };
}

/**
 * A manifest node in dbt's shape (`model`, `graph.nodes[...]`): what dbt's packages read from it.
 * The catalog is the target's, as every relation here lives in its one database.
 */
export function nodeDict(node: ManifestNode, database: string): Record<string, unknown> {
  const base: Record<string, unknown> = {
    unique_id: node.unique_id,
    name: node.name,
    resource_type: node.resource_type,
    package_name: node.package_name,
    path: node.path,
    original_file_path: node.original_file_path,
    fqn: [...node.fqn],
    tags: [...node.tags],
    description: node.description,
    columns: Object.fromEntries(Object.entries(node.columns).map(([k, c]) => [k, { name: c.name, description: c.description ?? '', data_type: c.data_type ?? null, meta: {}, tags: [] }])),
    meta: 'meta' in node.config ? node.config.meta : {},
    config: { ...node.config },
    depends_on: 'depends_on' in node ? { nodes: [...node.depends_on.nodes], macros: [...node.depends_on.macros] } : { nodes: [], macros: [] },
    database,
  };
  if ('relation' in node) {
    base.schema = node.relation.schema;
    base.alias = node.relation.identifier;
    base.identifier = node.relation.identifier;
  }
  if ('raw_code' in node && node.raw_code !== undefined) {
    base.raw_code = node.raw_code;
    base.raw_sql = node.raw_code;
    base.language = 'sql';
  }
  if ('refs' in node) {
    base.refs = node.refs.map((r) => ({ name: r.name, package: r.package ?? null, version: null }));
    base.sources = node.sources.map((s) => [s.source, s.table]);
  }
  if (node.resource_type === 'source') {
    base.source_name = node.source_name;
    base.identifier = node.relation.identifier;
    base.loaded_at_field = node.loaded_at_field ?? null;
  }
  if (node.resource_type === 'test') {
    base.alias = node.alias;
    if (node.test_metadata) base.test_metadata = { name: node.test_metadata.name, kwargs: { ...node.test_metadata.kwargs }, namespace: null };
    if (node.column_name !== undefined) base.column_name = node.column_name;
    if (node.attached_node !== undefined) base.attached_node = node.attached_node;
  }
  return base;
}

const graphs = new WeakMap<Manifest, Record<string, unknown>>();

/** `graph`: every node in dbt's shape, keyed by unique_id — sources apart, as in dbt. Built once per manifest. */
export function graphContext(manifest: Manifest, database: string): Record<string, unknown> {
  let graph = graphs.get(manifest);
  if (graph === undefined) {
    const nodes: Record<string, unknown> = {};
    const sources: Record<string, unknown> = {};
    for (const node of Object.values(manifest.nodes)) {
      if (node.resource_type === 'source') sources[node.unique_id] = nodeDict(node, database);
      else if (node.resource_type !== 'unit_test') nodes[node.unique_id] = nodeDict(node, database);
    }
    graph = { nodes, sources, exposures: {}, metrics: {}, groups: {}, semantic_models: {}, saved_queries: {} };
    graphs.set(manifest, graph);
  }
  return graph;
}
