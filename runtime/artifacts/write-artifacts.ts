import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest, ManifestNode } from '../manifest/types.js';
import type { RunResult } from '../execute/results.js';

const SMELTER_VERSION = '0.1.0';

/** Write JSON through a temporary file so a reader never sees half an artifact. */
function writeJson(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, path);
}

/** What `docs generate` adds to model nodes: their compiled SQL and column-level lineage. */
export interface ManifestExtras {
  readonly compiledCode?: Readonly<Record<string, string>>;
  readonly columnLineage?: Readonly<Record<string, Readonly<Record<string, ReadonlyArray<{ readonly node: string; readonly column: string }>>>>>;
}

/** target/manifest.json, shaped like dbt's v12 manifest where the concepts match. */
export function manifestArtifact(manifest: Manifest, invocationId: string, generatedAt: Date, extras: ManifestExtras = {}): unknown {
  const node = (n: ManifestNode) => {
    const common = {
      unique_id: n.unique_id,
      resource_type: n.resource_type === 'model' && n.snapshot ? 'snapshot' : n.resource_type,
      name: n.name,
      package_name: n.package_name,
      path: n.path,
      original_file_path: n.original_file_path,
      fqn: n.fqn,
      tags: n.tags,
      description: n.description,
      columns: n.columns,
      config: n.config,
      depends_on: n.depends_on,
    };
    switch (n.resource_type) {
      case 'model':
        return {
          ...common,
          schema: n.relation.schema,
          alias: n.relation.identifier,
          relation_name: `${n.relation.schema}.${n.relation.identifier}`,
          raw_code: n.raw_code,
          language: 'sql',
          checksum: { name: 'sha256', checksum: n.checksum },
          refs: n.refs.map((r) => ({ name: r.name, package: null, version: null })),
          sources: n.sources.map((s) => [s.source, s.table]),
          ...(extras.compiledCode?.[n.unique_id] !== undefined ? { compiled: true, compiled_code: extras.compiledCode[n.unique_id] } : {}),
          ...(extras.columnLineage?.[n.unique_id] !== undefined ? { column_lineage: extras.columnLineage[n.unique_id] } : {}),
        };
      case 'seed':
        return { ...common, schema: n.relation.schema, alias: n.relation.identifier, relation_name: `${n.relation.schema}.${n.relation.identifier}`, checksum: { name: 'sha256', checksum: n.checksum } };
      case 'source':
        return {
          ...common,
          source_name: n.source_name,
          schema: n.relation.schema,
          identifier: n.relation.identifier,
          relation_name: `${n.relation.schema}.${n.relation.identifier}`,
          external_location: n.external_location ?? null,
          loaded_at_field: n.loaded_at_field ?? null,
          freshness: n.freshness ?? null,
        };
      case 'analysis':
        return {
          ...common,
          raw_code: n.raw_code,
          language: 'sql',
          checksum: { name: 'sha256', checksum: n.checksum },
          refs: n.refs.map((r) => ({ name: r.name, package: r.package ?? null, version: null })),
          sources: n.sources.map((s) => [s.source, s.table]),
          ...(extras.compiledCode?.[n.unique_id] !== undefined ? { compiled: true, compiled_code: extras.compiledCode[n.unique_id] } : {}),
        };
      case 'unit_test':
        return { ...common, model: n.model, given: n.given, expect: { rows: n.expect }, overrides: n.overrides, checksum: { name: 'sha256', checksum: n.checksum } };
      case 'test':
        return {
          ...common,
          alias: n.alias,
          raw_code: n.raw_code ?? (n.test_metadata ? `{{ test_${n.test_metadata.name}(**_dbt_generic_test_kwargs) }}` : ''),
          language: 'sql',
          checksum: { name: 'sha256', checksum: n.checksum },
          test_metadata: n.test_metadata ? { name: n.test_metadata.name, kwargs: n.test_metadata.kwargs, namespace: null } : undefined,
          column_name: n.column_name ?? null,
          attached_node: n.attached_node ?? null,
          refs: n.refs.map((r) => ({ name: r.name, package: null, version: null })),
          sources: n.sources.map((s) => [s.source, s.table]),
        };
    }
  };
  const all = Object.values(manifest.nodes);
  const pick = (type: string) => Object.fromEntries(all.filter((n) => n.resource_type === type).map((n) => [n.unique_id, node(n)]));
  const parentMap: Record<string, string[]> = {};
  const childMap: Record<string, string[]> = {};
  // The graph's edges, read from depends_on (the Dag holds the same edges: buildDag) so that
  // writing a manifest never needs the graph built.
  for (const id of Object.keys(manifest.nodes)) childMap[id] = [];
  for (const n of all) parentMap[n.unique_id] = n.depends_on.nodes.filter((p) => p in childMap);
  for (const n of all) for (const p of parentMap[n.unique_id]) childMap[p].push(n.unique_id);
  for (const id of Object.keys(childMap)) {
    parentMap[id].sort();
    childMap[id].sort();
  }
  return {
    metadata: {
      dbt_schema_version: 'https://schemas.getdbt.com/dbt/manifest/v12.json',
      generator: `smelter ${SMELTER_VERSION}`,
      generated_at: generatedAt.toISOString(),
      invocation_id: invocationId,
      project_name: manifest.project_name,
      adapter_type: 'duckdb',
    },
    nodes: { ...pick('model'), ...pick('seed'), ...pick('test'), ...pick('analysis') },
    sources: pick('source'),
    unit_tests: pick('unit_test'),
    macros: Object.fromEntries(
      Object.values(manifest.macros).map((m) => [
        m.unique_id,
        { ...m, resource_type: 'macro', package_name: manifest.project_name, checksum: { name: 'sha256', checksum: m.checksum } },
      ]),
    ),
    disabled: Object.fromEntries(Object.values(manifest.disabled).map((n) => [n.unique_id, [node(n)]])),
    // Declared in properties files and kept as written (dbt's fields are those the user wrote).
    ...Object.fromEntries(
      (['exposures', 'groups', 'semantic_models', 'metrics', 'saved_queries'] as const).map((kind) => [
        kind,
        Object.fromEntries(
          Object.values(manifest.declared?.[kind] ?? {}).map((d) => [
            d.unique_id,
            { ...d.properties, name: d.name, resource_type: d.resource_type, unique_id: d.unique_id, package_name: d.package_name, original_file_path: d.original_file_path, path: d.original_file_path, fqn: [d.package_name, d.name] },
          ]),
        ),
      ]),
    ),
    parent_map: parentMap,
    child_map: childMap,
    diagnostics: manifest.diagnostics,
  };
}

/** Writes target/manifest.json; returns what it wrote. */
export function writeManifest(dir: string, manifest: Manifest, invocationId: string, generatedAt = new Date(), extras: ManifestExtras = {}): unknown {
  mkdirSync(dir, { recursive: true });
  const artifact = manifestArtifact(manifest, invocationId, generatedAt, extras);
  writeJson(join(dir, 'manifest.json'), artifact);
  return artifact;
}

/** target/catalog.json, dbt's v1 catalog. */
export function writeCatalog(dir: string, catalog: { nodes: unknown; sources: unknown; errors: unknown }, invocationId: string, generatedAt = new Date()): unknown {
  const artifact = {
    metadata: {
      dbt_schema_version: 'https://schemas.getdbt.com/dbt/catalog/v1.json',
      generator: `smelter ${SMELTER_VERSION}`,
      generated_at: generatedAt.toISOString(),
      invocation_id: invocationId,
      env: {},
    },
    nodes: catalog.nodes,
    sources: catalog.sources,
    errors: catalog.errors,
  };
  mkdirSync(dir, { recursive: true });
  writeJson(join(dir, 'catalog.json'), artifact);
  return artifact;
}

/** target/run_results.json, shaped like dbt's v6 run results. */
export function runResultsArtifact(run: RunResult, args: Record<string, unknown>): unknown {
  return {
    metadata: {
      dbt_schema_version: 'https://schemas.getdbt.com/dbt/run-results/v6.json',
      generator: `smelter ${SMELTER_VERSION}`,
      generated_at: new Date().toISOString(),
      invocation_id: run.invocation_id,
    },
    results: run.results.map((r) => ({
      unique_id: r.unique_id,
      status: r.status,
      timing: r.timing,
      thread_id: null,
      execution_time: r.seconds,
      adapter_response: r.rows === undefined ? {} : { rows_affected: r.rows },
      message: r.message ?? (r.resource_type === 'test' ? null : r.rows === undefined ? 'OK' : `OK ${r.rows}`),
      failures: r.failures ?? null,
      relation_name: r.relation,
    })),
    elapsed_time: run.elapsed_seconds,
    args,
  };
}

export function writeRunResults(dir: string, run: RunResult, args: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  writeJson(join(dir, 'run_results.json'), runResultsArtifact(run, args));
}
