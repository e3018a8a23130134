import { ProjectError } from '../errors.js';
import type { DeclaredKind, DeclaredResource } from '../manifest/types.js';
import type { ParseDiagnostics } from './parse-errors.js';
import type { PackagedDeclaredEntry } from './parse-properties.js';

const DECLARED_TYPES = { exposures: 'exposure', groups: 'group', semantic_models: 'semantic_model', metrics: 'metric', saved_queries: 'saved_query' } as const;

/** Exposures, groups and the semantic layer's entries by unique_id (`exposure.shop.weekly_report`); a name declared twice is an error. */
export function declaredResources(entries: readonly PackagedDeclaredEntry[], diagnostics: ParseDiagnostics): Record<DeclaredKind, Record<string, DeclaredResource>> {
  const out: Record<DeclaredKind, Record<string, DeclaredResource>> = { exposures: {}, groups: {}, semantic_models: {}, metrics: {}, saved_queries: {} };
  for (const entry of entries) {
    const resourceType = DECLARED_TYPES[entry.kind];
    const uniqueId = `${resourceType}.${entry.package}.${entry.name}`;
    const earlier = out[entry.kind][uniqueId];
    if (earlier) {
      diagnostics.report(new ProjectError(`${resourceType.replace('_', ' ')} '${entry.name}' is declared twice (also in ${earlier.original_file_path}:${earlier.line})`, { code: 'duplicate', location: { file: entry.file, line: entry.line } }));
      continue;
    }
    out[entry.kind][uniqueId] = { resource_type: resourceType, unique_id: uniqueId, name: entry.name, package_name: entry.package, original_file_path: entry.file, line: entry.line, properties: entry.properties };
  }
  return out;
}
