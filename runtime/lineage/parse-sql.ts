import type { EngineConnection } from '../engine/engine.js';
import { quoteLiteral } from '../render/relation.js';

/** A node of DuckDB's parser AST as `json_serialize_sql` writes it: plain JSON objects. */
export type AstNode = { readonly [key: string]: unknown };

/** The parsed statements, or the parser's error message. */
export type Parsed = { readonly statements: readonly AstNode[] } | { readonly error: string };

/**
 * DuckDB's own parser on `sql`: the AST, without binding (no table need exist). The engine's
 * connection has no parameters, so the SQL goes in as a literal.
 */
export async function parseSql(connection: EngineConnection, sql: string): Promise<Parsed> {
  const rows = await connection.query(`select json_serialize_sql(${quoteLiteral(sql)}) as ast`);
  const ast = JSON.parse(String(rows[0]?.ast)) as { error?: boolean; error_message?: string; statements?: AstNode[] };
  if (ast.error) return { error: ast.error_message ?? 'the SQL does not parse' };
  return { statements: ast.statements ?? [] };
}

const shells = new WeakMap<EngineConnection, string>();

/**
 * The name DuckDB gives an unaliased expression's column: the expression printed back by its
 * own deserializer (`sum(x)`, `CAST(x AS INTEGER)`, `count_star()`). The expression is placed in
 * the select list of a parsed `SELECT 1` so the statement around it is one DuckDB wrote itself.
 */
export async function expressionName(connection: EngineConnection, expression: AstNode): Promise<string | undefined> {
  let shell = shells.get(connection);
  if (shell === undefined) {
    const rows = await connection.query(`select json_serialize_sql('SELECT 1') as ast`);
    shell = String(rows[0]?.ast);
    shells.set(connection, shell);
  }
  const ast = JSON.parse(shell) as { statements: Array<{ node: { select_list: unknown[] } }> };
  ast.statements[0].node.select_list = [{ ...expression, alias: '' }];
  try {
    const rows = await connection.query(`select json_deserialize_sql(${quoteLiteral(JSON.stringify(withoutLocations(ast)))}) as sql`);
    const text = String(rows[0]?.sql ?? '');
    return text.startsWith('SELECT ') ? text.slice('SELECT '.length) : undefined;
  } catch {
    // An expression the deserializer cannot print: the column keeps a positional name.
    return undefined;
  }
}

/**
 * The AST with every `query_location` 0: "no location" is 2^64-1, which JSON.parse rounds to a
 * double the deserializer refuses as a uint64.
 */
function withoutLocations(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutLocations);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === 'query_location' ? 0 : withoutLocations(v)]));
}
