/** A query's result as the bridge hands it to a template: column names and types, rows of values. */
export interface QueryTable {
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string }>;
  readonly rows: ReadonlyArray<readonly unknown[]>;
  /** Rows a DML statement changed (0 for a query). */
  readonly rowsAffected: number;
}

/**
 * The database as one render sees it. Rendering is synchronous and the database is not, so a render
 * asks by SQL text: an answered query returns its table; an unanswered one is recorded and stops
 * the render (`answer` throws), and the caller runs it and renders again (execute/database-access.ts).
 */
export interface DatabaseAnswers {
  /** The result of `sql`; throws when it is not known yet, or when the database refused it. */
  answer(sql: string): QueryTable;
}

/**
 * agate's Table as dbt's `run_query` and `load_result(...).table` return it: a list of rows (so
 * `for row in table` and `| length` work) with `.rows`, `.columns` (by position or name),
 * `.column_names` and `.print_table()`. A row is a list with its values also under their column
 * names (`row[0]`, `row['id']`, `row.id`); a column is a list of its values with `.values()` and
 * `.name`; `.columns` also has `.items()`, `.keys()` and `.values()`. The extra names are non-enumerable, so a row iterates and prints as its values only.
 */
export function agateTable(table: QueryTable): unknown[] {
  const names = table.columns.map((c) => c.name);
  const rows = table.rows.map((values) => {
    const row = [...values];
    names.forEach((name, i) => hide(row, name, values[i]));
    hide(row, 'keys', () => [...names]);
    hide(row, 'values', () => [...values]);
    hide(row, 'items', () => names.map((n, i) => [n, values[i]]));
    return row;
  });
  const columns = table.columns.map((c, i) => {
    const values = table.rows.map((r) => r[i]);
    const column = [...values];
    hide(column, 'name', c.name);
    hide(column, 'data_type', c.type);
    hide(column, 'values', () => [...values]);
    return column;
  });
  names.forEach((name, i) => hide(columns, name, columns[i]));
  // agate's MappedSequence: `for name, column in table.columns.items()` (dbt_utils.get_query_results_as_dict).
  hide(columns, 'items', () => names.map((n, i) => [n, columns[i]]));
  hide(columns, 'keys', () => [...names]);
  hide(columns, 'values', () => [...columns]);
  const result: unknown[] = [...rows];
  hide(result, 'rows', rows);
  hide(result, 'columns', columns);
  hide(result, 'column_names', [...names]);
  hide(result, 'column_types', table.columns.map((c) => c.type));
  hide(result, 'print_table', () => '');
  return result;
}

/** A result's `data`: its rows as plain lists (dbt's `load_result(...)['data']`). */
export function tableData(table: QueryTable): unknown[][] {
  return table.rows.map((r) => [...r]);
}

function hide(target: object, key: string, value: unknown): void {
  // A column named like an array method (`map`, `length`) keeps the method: the list comes first.
  if (key === 'length' || (key in target && !Object.hasOwn(target, key) && key !== 'values' && key !== 'keys')) return;
  Object.defineProperty(target, key, { value, enumerable: false, configurable: true, writable: true });
}
