import type { Relation } from '../manifest/types.js';

/** Quote one identifier for DuckDB (always quoted: model names need not be SQL-safe). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `"schema"."identifier"`: how a relation appears in rendered SQL. */
export function renderRelation(relation: Relation): string {
  return `${quoteIdentifier(relation.schema)}.${quoteIdentifier(relation.identifier)}`;
}

/** The CTE name an ephemeral model is inlined under. */
export function ephemeralCteName(modelName: string): string {
  return `__smelter_cte__${modelName}`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
