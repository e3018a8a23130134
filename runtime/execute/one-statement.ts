import { CompileError } from '../errors.js';
import type { EngineConnection } from '../engine/engine.js';
import type { ModelNode } from '../manifest/types.js';

/**
 * A model is one query. Its SQL goes after `CREATE TABLE ... AS` (or into COPY, MERGE, ...) as it
 * is, and DuckDB runs every statement of a string: `select 1; drop table gold.dim_member` would
 * build the model and then drop the table, outside anything smelter planned or recorded. dbt wraps
 * the SQL in parentheses, where a second statement is a syntax error; smelter refuses it by name.
 */
export async function refuseStackedStatements(node: ModelNode, sql: string, connection: EngineConnection): Promise<void> {
  const second = textAfterFirstStatement(sql);
  // Confirmed by DuckDB's own parser: the scan below is a cheap filter and must never refuse valid SQL.
  if (second === undefined || (await connection.countStatements(sql)) <= 1) return;
  const excerpt = second.text.length > 80 ? `${second.text.slice(0, 80)}…` : second.text;
  throw new CompileError(`${node.name}: the rendered SQL holds more than one statement: after the ';' on its line ${second.line} comes "${excerpt}"`, {
    node: node.unique_id,
    location: { file: node.original_file_path },
    hint: 'a model is one query (a SELECT); run other statements from a pre_hook or post_hook',
  });
}

/**
 * Where a statement follows the first `;` that ends one: the 1-based line of that `;` and the
 * first line of what follows, or undefined when only whitespace, comments and more `;` follow.
 * Skips `;` in quoted strings and identifiers ('…', E'…', "…"), dollar-quoted strings and comments.
 */
export function textAfterFirstStatement(sql: string): { line: number; text: string } | undefined {
  if (!sql.includes(';')) return undefined;
  let i = 0;
  let end = -1;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol === -1 ? n : eol + 1;
    } else if (c === '/' && next === '*') {
      i = endOfBlockComment(sql, i);
    } else if (c === ';') {
      if (end === -1) end = i;
      i++;
    } else if (end !== -1 && !/\s/.test(c)) {
      const eol = sql.indexOf('\n', i);
      const text = sql.slice(i, eol === -1 ? n : eol).trim();
      return { line: sql.slice(0, end).split('\n').length, text };
    } else if (c === "'" || c === '"') {
      // A backslash escapes only in E'…' strings.
      const escapes = c === "'" && (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !/[\w$]/.test(sql[i - 2] ?? '');
      i = endOfQuoted(sql, i, c, escapes);
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (tag && !/[\w$]/.test(sql[i - 1] ?? '')) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        i = close === -1 ? n : close + tag[0].length;
      } else i++;
    } else {
      i++;
    }
  }
  return undefined;
}

function endOfBlockComment(sql: string, start: number): number {
  // Nested, as in PostgreSQL's grammar, which DuckDB's parser follows.
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else i++;
  }
  return sql.length;
}

function endOfQuoted(sql: string, start: number, quote: string, escapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    if (escapes && sql[i] === '\\') i += 2;
    else if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2; // a doubled quote is the quote itself
      else return i + 1;
    } else i++;
  }
  return sql.length;
}
