import { CROSS_DATABASE_FOLDER, type BuiltinMacroFile } from './cross-database-macro.js';

/** The dateparts dbt documents (case-insensitive); each macro accepts the subset DuckDB can do. */
export const DATEPARTS = ['year', 'quarter', 'month', 'week', 'day', 'hour', 'minute', 'second', 'millisecond', 'microsecond', 'nanosecond'] as const;

/** A Jinja list literal of dateparts, to pass to `smelter_datepart`. */
export function datepartList(parts: readonly string[]): string {
  return `[${parts.map((p) => `'${p}'`).join(', ')}]`;
}

/**
 * Helpers the date macros share; not dispatched, not part of dbt's API. Their names do not start with
 * `_`: Nunjucks does not export such macros from a file.
 *
 * `smelter_datepart` normalizes a datepart (case, a plural such as 'days', which DuckDB and
 * Postgres intervals accept) and refuses one the macro cannot do, at render time with the macro's
 * name, rather than as a DuckDB error at run time or, worse, a silently different count.
 *
 * `smelter_temporal` types a quoted literal: dbt's documentation passes dates as `"'2016-03-09'"`,
 * which Postgres reads as a timestamp, whereas DuckDB cannot choose between its date and timestamp
 * overloads for an untyped literal. The literal may come from another macro (`dbt.string_literal`).
 * Any other expression keeps its own type (a timestamptz stays one).
 */
export const HELPER_MACROS_FILE: BuiltinMacroFile = {
  path: `${CROSS_DATABASE_FOLDER}/smelter_helpers.sql`,
  text: `{% macro smelter_datepart(macro_name, datepart, supported) -%}
  {%- set part = (datepart ~ '') | trim | lower -%}
  {%- for name in supported -%}
    {%- if part == name or part == name ~ 's' -%}{{- return(name) -}}{%- endif -%}
  {%- endfor -%}
  {{- exceptions.raise_compiler_error(macro_name ~ "(): datepart '" ~ datepart ~ "' is not supported on DuckDB (supported: " ~ (supported | join(', ')) ~ ")") -}}
{%- endmacro %}

{% macro smelter_temporal(expression) -%}
  {%- set text = (expression ~ '') | trim -%}
  {%- if (text | length) > 1 and text.startswith("'") and text.endswith("'") -%}
    {{- return('cast(' ~ text ~ ' as timestamp)') -}}
  {%- endif -%}
  {{- return(expression) -}}
{%- endmacro %}
`,
};
