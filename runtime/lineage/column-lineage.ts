import type { Manifest, ManifestNode, ModelNode, Relation } from '../manifest/types.js';
import type { EngineConnection } from '../engine/engine.js';
import { buildDag, topologicalOrder } from '../graph/dag.js';
import { renderModel, type RenderEnvironment } from '../render/render-model.js';
import { ephemeralCteName, renderRelation } from '../render/relation.js';
import { expressionName, parseSql, type AstNode } from './parse-sql.js';
import { queryLineage, type TableTarget } from './query-lineage.js';
import { suggestionFor } from './undeclared-reads.js';
import { sortRefs, type ColumnLineage, type LineageResult, type UndeclaredRead } from './types.js';

export interface LineageInput {
  readonly manifest: Manifest;
  /** How models render in this run; lineage renders them with plain relation names, not incremental. */
  readonly renv: RenderEnvironment;
  /** Any DuckDB connection: it only parses. */
  readonly connection: EngineConnection;
  /** Columns of seeds, sources and built models (catalog or declared), to expand `*`. */
  readonly columnsOf: (uniqueId: string) => readonly string[] | undefined;
}

/**
 * Column-level lineage of every model (ephemeral ones included), in topological order so a
 * model's upstream output columns are known when its `*` is expanded. A model that cannot be
 * analysed gets a problem and its best partial lineage; one model never stops the others.
 */
export async function computeColumnLineage(input: LineageInput): Promise<LineageResult> {
  const { manifest, connection, columnsOf } = input;
  const nodeOfRelation = relationIndex(manifest);
  const defaultSchema = input.renv.project.config.target.schema;
  const ephemeralOfCte = new Map<string, ModelNode>();
  for (const node of Object.values(manifest.nodes)) {
    if (node.resource_type === 'model' && node.config.materialized === 'ephemeral') ephemeralOfCte.set(lower(ephemeralCteName(node.name)), node);
  }
  // Every ref() and source() renders as its "schema"."identifier", so each table in the parsed SQL
  // maps back to a node; is_incremental() is false, so the SQL is the full query.
  const renv: RenderEnvironment = {
    ...input.renv,
    relationOf: (node) => renderRelation(node.relation),
    sourceRelationOf: (node) => renderRelation(node.relation),
    isIncremental: () => false,
    batch: undefined,
    sqlHeader: undefined,
  };

  const columnLineage: Record<string, ColumnLineage> = {};
  const outputColumns: Record<string, readonly string[]> = {};
  const undeclared: Record<string, readonly UndeclaredRead[]> = {};
  const problems: Record<string, string> = {};
  // A model analysed cleanly knows its own columns best, and those its materialization adds
  // (scd2's surrogate key and validity) come after them from the catalog or YAML; a model with a
  // problem takes the catalog's, then its partial list.
  const knownColumns = (id: string): readonly string[] | undefined => {
    const own = problems[id] === undefined ? outputColumns[id] : undefined;
    const other = columnsOf(id);
    if (own === undefined) return other ?? outputColumns[id];
    const seen = new Set(own.map(lower));
    return [...own, ...(other ?? []).filter((c) => !seen.has(lower(c)))];
  };

  const analyse = async (id: string): Promise<void> => {
    const model = manifest.nodes[id] as ModelNode;
    delete problems[id];
    delete undeclared[id];
    const found: string[] = [];
    const reads: UndeclaredRead[] = [];
    try {
      const sql = renderModel(model, renv);
      const parsed = await parseSql(connection, sql);
      if ('error' in parsed) throw new Error(`its SQL does not parse: ${parsed.error}`);
      const statement = parsed.statements.length === 1 ? (parsed.statements[0].node as AstNode | undefined) : undefined;
      if (!statement) throw new Error(`its SQL is ${parsed.statements.length} statements, not one query`);
      const names = await unaliasedNames(connection, statement);
      const resolveTable = (ref: { catalog: string; schema: string; name: string }): TableTarget | undefined => {
        const ephemeral = !ref.schema && !ref.catalog ? ephemeralOfCte.get(lower(ref.name)) : undefined;
        const node = ephemeral ?? nodeOfRelation.get(relationKey({ schema: ref.schema || defaultSchema, identifier: ref.name }));
        if (!node || node.unique_id === id) return undefined;
        if (!ephemeral && !model.depends_on.nodes.includes(node.unique_id) && !reads.some((r) => r.node === node.unique_id)) {
          reads.push({ relation: [ref.catalog, ref.schema, ref.name].filter(Boolean).join('.'), node: node.unique_id, suggestion: suggestionFor(node) });
        }
        return { node: node.unique_id, columns: knownColumns(node.unique_id) };
      };
      const columns = distinctNames(queryLineage(statement, {
        resolveTable,
        isNodeCte: (name) => ephemeralOfCte.has(lower(name)),
        nameOf: (expression) => names.get(expression),
        problem: (message) => found.push(message),
      }));
      outputColumns[id] = columns.map((c) => c.name);
      columnLineage[id] = Object.fromEntries(columns.map((c) => [c.name, sortRefs(c.refs)]));
    } catch (error) {
      found.unshift((error as Error).message);
      columnLineage[id] = {};
    }
    if (reads.length > 0) undeclared[id] = reads;
    if (found.length > 0) problems[id] = [...new Set(found)].join('; ');
  };

  const order = topologicalOrder(buildDag(manifest)).filter((id) => manifest.nodes[id]?.resource_type === 'model');
  for (const id of order) await analyse(id);
  // A read without ref() is no edge of the graph, so the model read may have come later in the
  // order, its columns unknown then: a second pass sees every model's columns from the first.
  if (Object.keys(undeclared).length > 0) for (const id of order) await analyse(id);
  return { columnLineage, outputColumns, undeclared, problems };
}

/**
 * The names the built relation has: DuckDB gives a repeated name (compared without case) a
 * suffix counting its repeats, `id`, `id_1`, `ID_2`, when it creates a table or view.
 */
function distinctNames<T extends { readonly name: string }>(columns: readonly T[]): T[] {
  const seen = new Map<string, number>();
  const taken = new Set(columns.map((c) => lower(c.name)));
  return columns.map((c) => {
    const repeats = seen.get(lower(c.name)) ?? 0;
    seen.set(lower(c.name), repeats + 1);
    if (repeats === 0) return c;
    let n = repeats;
    while (taken.has(lower(`${c.name}_${n}`))) n++;
    taken.add(lower(`${c.name}_${n}`));
    return { ...c, name: `${c.name}_${n}` };
  });
}

/** Models (not ephemeral), seeds and sources by the relation they are in the database. */
function relationIndex(manifest: Manifest): Map<string, ManifestNode> {
  const index = new Map<string, ManifestNode>();
  for (const node of Object.values(manifest.nodes)) {
    if (node.resource_type === 'model' && node.config.materialized === 'ephemeral') continue;
    if (node.resource_type === 'model' || node.resource_type === 'seed' || node.resource_type === 'source') {
      index.set(relationKey(node.relation), node);
    }
  }
  return index;
}

/** DuckDB's identifiers are case-insensitive, quoted or not. */
function relationKey(relation: Relation): string {
  return `${lower(relation.schema)}\u0000${lower(relation.identifier)}`;
}


/** DuckDB's names for the unaliased expressions of every select list in the query. */
async function unaliasedNames(connection: EngineConnection, statement: AstNode): Promise<Map<AstNode, string>> {
  const names = new Map<AstNode, string>();
  const pending: AstNode[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (value === null || typeof value !== 'object') return;
    const node = value as AstNode;
    for (const e of Array.isArray(node.select_list) ? (node.select_list as AstNode[]) : []) {
      if (!e.alias && e.class !== 'COLUMN_REF' && e.class !== 'STAR') pending.push(e);
    }
    Object.values(node).forEach(visit);
  };
  visit(statement);
  for (const e of pending) {
    const name = await expressionName(connection, e);
    if (name !== undefined) names.set(e, name);
  }
  return names;
}

const lower = (s: string) => s.toLowerCase();
