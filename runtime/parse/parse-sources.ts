import { ProjectError } from '../errors.js';
import type { SourceNode } from '../manifest/types.js';
import type { ParseContext } from './parse-context.js';
import type { ParsedNodes } from './parsed-nodes.js';
import type { ProjectProperties } from './parse-properties.js';

/** Sources: a node per table of each `sources:` entry. */
export function parseSources(ctx: ParseContext, properties: ProjectProperties, parsed: ParsedNodes): void {
  const { config, diagnostics } = ctx;
  for (const source of properties.sources) {
    for (const table of source.tables) {
      const sourcePackage = source.package ?? config.name;
      const uniqueId = `source.${sourcePackage}.${source.name}.${table.name}`;
      if (parsed.nodes[uniqueId] || parsed.disabled[uniqueId]) {
        diagnostics.report(new ProjectError(`source ${source.name}.${table.name} is declared twice`, { code: 'duplicate', location: { file: source.file, line: table.line } }));
        continue;
      }
      const node: SourceNode = {
        resource_type: 'source',
        unique_id: uniqueId,
        name: table.name,
        source_name: source.name,
        package_name: sourcePackage,
        original_file_path: source.file,
        path: source.file,
        fqn: [sourcePackage, source.name, table.name],
        tags: table.tags,
        description: table.description,
        columns: table.columns,
        external_location: table.externalLocation,
        loaded_at_field: table.loadedAtField,
        ...(table.freshness ? { freshness: table.freshness } : {}),
        relation: { schema: source.schema, identifier: table.identifier },
        config: { enabled: table.enabled, tags: table.tags, ...(table.eventTime ? { event_time: table.eventTime } : {}) },
        depends_on: { nodes: [], macros: [] },
      };
      parsed.add(node, table.enabled);
      if (table.enabled) parsed.sourceTables.set(`${source.name}.${table.name}`, node);
      if (table.enabled && table.tests.length) parsed.testTargets.push({ node, declarations: table.tests });
    }
  }
}
