/**
 * One of dbt's cross-database macros, as the `dbt` package declares it: callers write `dbt.X(...)`
 * (or `X(...)`), and dbt resolves the implementation through `adapter.dispatch('X', 'dbt')`, so a
 * project's own `duckdb__X` or `default__X` takes precedence over ours.
 */
export interface CrossDatabaseMacro {
  readonly name: string;
  /** dbt's parameter names, in dbt's order: callers pass them by keyword. `[name, default]` for an optional one (a Jinja expression). */
  readonly params: readonly (string | readonly [name: string, defaultValue: string])[];
  /** Jinja of `default__<name>`: DuckDB's SQL. */
  readonly body: string;
}

export interface BuiltinMacroFile {
  readonly path: string;
  readonly text: string;
}

export const CROSS_DATABASE_FOLDER = 'smelter/dbt/cross_database';

/**
 * The file for one macro: the dispatcher and `default__<name>`. The dispatcher is generated, so
 * its parameters can never drift from the implementation's.
 */
export function crossDatabaseMacroFile(macro: CrossDatabaseMacro): BuiltinMacroFile {
  const signature = macro.params.map((p) => (typeof p === 'string' ? p : `${p[0]}=${p[1]}`)).join(', ');
  const forwarded = macro.params.map((p) => (typeof p === 'string' ? p : p[0])).join(', ');
  const text = [
    `{% macro ${macro.name}(${signature}) -%}`,
    `{{ return(adapter.dispatch('${macro.name}', 'dbt')(${forwarded})) }}`,
    '{%- endmacro %}',
    '',
    `{% macro default__${macro.name}(${signature}) -%}`,
    macro.body.trim(),
    '{%- endmacro %}',
    '',
  ].join('\n');
  return { path: `${CROSS_DATABASE_FOLDER}/${macro.name}.sql`, text };
}
