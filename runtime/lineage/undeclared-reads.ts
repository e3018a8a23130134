import type { EngineConnection } from '../engine/engine.js';
import type { Manifest, ManifestNode, ModelNode, SeedNode, SourceNode } from '../manifest/types.js';
import { parseSql, type AstNode } from './parse-sql.js';
import type { UndeclaredRead } from './types.js';

const INDEXES = new WeakMap<Manifest, UndeclaredReads>();

/**
 * Reads that bypass `ref()`/`source()`: a model's SQL naming another model's, seed's or source's
 * relation directly. Such a read is no edge of the graph, so a run may build the model before
 * what it reads. `compile` and `run` warn about them (docs generate finds them with the lineage).
 *
 * Cheap for the common case: the SQL is parsed (DuckDB's parser) only when a word of it is the
 * identifier of a relation the model does not depend on; most models never are.
 */
export class UndeclaredReads {
  /** One index per manifest: a run asks for every model it builds. */
  static of(manifest: Manifest, defaultSchema: string): UndeclaredReads {
    const cached = INDEXES.get(manifest);
    if (cached && cached.defaultSchema === defaultSchema) return cached;
    const index = new UndeclaredReads(manifest, defaultSchema);
    INDEXES.set(manifest, index);
    return index;
  }

  private readonly byIdentifier = new Map<string, Array<ModelNode | SeedNode | SourceNode>>();

  constructor(
    private readonly manifest: Manifest,
    readonly defaultSchema: string,
  ) {
    for (const node of Object.values(manifest.nodes)) {
      if (node.resource_type === 'model' && node.config.materialized === 'ephemeral') continue;
      if (node.resource_type !== 'model' && node.resource_type !== 'seed' && node.resource_type !== 'source') continue;
      const key = node.relation.identifier.toLowerCase();
      this.byIdentifier.set(key, [...(this.byIdentifier.get(key) ?? []), node]);
    }
  }

  /** What the model declares it reads: its dependencies, and theirs through ephemeral models (inlined as CTEs). */
  private declaredReads(model: ModelNode): Set<string> {
    const declared = new Set<string>();
    const visit = (ids: readonly string[]) => {
      for (const id of ids) {
        if (declared.has(id)) continue;
        declared.add(id);
        const node = this.manifest.nodes[id];
        if (node?.resource_type === 'model' && node.config.materialized === 'ephemeral') visit(node.depends_on.nodes);
      }
    };
    visit(model.depends_on.nodes);
    return declared;
  }

  /** The undeclared reads of `model` in its rendered `sql`; `parser` is asked only when a word suggests one. */
  async find(model: ModelNode, sql: string, parser: () => Promise<EngineConnection>): Promise<UndeclaredRead[]> {
    const declared = this.declaredReads(model);
    const suspects = new Set<string>();
    // Each distinct word once: a model repeats its column and alias names many times.
    const seen = new Set<string>();
    for (const word of sql.toLowerCase().split(/[^a-z0-9_$]+/)) {
      if (seen.has(word)) continue;
      seen.add(word);
      if (this.byIdentifier.get(word)?.some((n) => n.unique_id !== model.unique_id && !declared.has(n.unique_id))) suspects.add(word);
    }
    if (suspects.size === 0) return [];
    const parsed = await parseSql(await parser(), sql);
    if ('error' in parsed) return []; // running it reports the syntax error
    const ctes = new Set<string>();
    const tables: Array<{ catalog: string; schema: string; name: string }> = [];
    walk(parsed.statements, (node) => {
      if (node.type === 'BASE_TABLE') tables.push({ catalog: String(node.catalog_name ?? ''), schema: String(node.schema_name ?? ''), name: String(node.table_name ?? '') });
      const map = (node.cte_map as { map?: Array<{ key: string }> } | undefined)?.map;
      for (const cte of map ?? []) ctes.add(cte.key.toLowerCase());
    });
    const reads: UndeclaredRead[] = [];
    for (const table of tables) {
      if (!table.schema && ctes.has(table.name.toLowerCase())) continue;
      const schema = (table.schema || this.defaultSchema).toLowerCase();
      const node = this.byIdentifier.get(table.name.toLowerCase())?.find((n) => n.relation.schema.toLowerCase() === schema);
      if (!node || node.unique_id === model.unique_id || declared.has(node.unique_id) || reads.some((r) => r.node === node.unique_id)) continue;
      reads.push({ relation: [table.catalog, table.schema, table.name].filter(Boolean).join('.'), node: node.unique_id, suggestion: suggestionFor(node) });
    }
    return reads;
  }
}

function walk(value: unknown, visit: (node: AstNode) => void): void {
  if (Array.isArray(value)) for (const v of value) walk(v, visit);
  else if (value !== null && typeof value === 'object') {
    visit(value as AstNode);
    for (const v of Object.values(value)) walk(v, visit);
  }
}

/** The call that declares a read of `node`. */
export function suggestionFor(node: ManifestNode): string {
  return node.resource_type === 'source' ? `{{ source('${node.source_name}', '${node.name}') }}` : `{{ ref('${node.name}') }}`;
}

/** The warning for one undeclared read: the relation read by name, and the call that declares it. */
export function undeclaredWarning(file: string, model: string, read: UndeclaredRead): string {
  return `${file}: ${model} reads ${read.relation} without ref() or source(), so it is not in the graph: write ${read.suggestion}`;
}
