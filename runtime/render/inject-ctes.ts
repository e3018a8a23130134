/**
 * Prepend CTEs to a query. When the query already starts with WITH (after comments), the CTEs
 * join its list, so `WITH a AS (...) SELECT ...` stays one statement with one WITH clause.
 */
export function injectCtes(sql: string, ctes: ReadonlyArray<{ name: string; sql: string }>): string {
  if (ctes.length === 0) return sql;
  const list = ctes.map((c) => `${c.name} AS (\n${c.sql.trim().replace(/;\s*$/, '')}\n)`).join(',\n');
  const start = skipCommentsAndSpace(sql, 0);
  const withMatch = /^with(\s+recursive)?\b/i.exec(sql.slice(start));
  if (withMatch) {
    const after = start + withMatch[0].length;
    return `${sql.slice(0, after)} ${list},\n${sql.slice(after).replace(/^\s+/, '')}`;
  }
  return `${sql.slice(0, start)}WITH ${list}\n${sql.slice(start)}`;
}

function skipCommentsAndSpace(sql: string, from: number): number {
  let i = from;
  for (;;) {
    while (i < sql.length && /\s/.test(sql[i])) i++;
    if (sql.startsWith('--', i)) {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? sql.length : nl + 1;
    } else if (sql.startsWith('/*', i)) {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else {
      return i;
    }
  }
}
