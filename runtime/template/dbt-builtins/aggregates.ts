import type { CrossDatabaseMacro } from './cross-database-macro.js';

/** dbt's aggregate macros, for DuckDB. */
export const AGGREGATE_MACROS: readonly CrossDatabaseMacro[] = [
  // DuckDB's any_value prefers a non-NULL value when the group has one.
  { name: 'any_value', params: ['expression'], body: 'any_value({{ expression }})' },
  { name: 'bool_or', params: ['expression'], body: 'bool_or({{ expression }})' },
  {
    name: 'listagg',
    params: ['measure', ['delimiter_text', `"','"`], ['order_by_clause', 'none'], ['limit_num', 'none']],
    // `measure` may begin with DISTINCT and `order_by_clause` is the whole `order by ...` text.
    // With a limit, NULLs take their places among the first values before they are dropped from
    // the text, as on dbt's Postgres and DuckDB adapters.
    body: `
{%- set ordered = (' ' ~ order_by_clause) if order_by_clause else '' -%}
{%- if limit_num is none -%}
string_agg({{ measure }}, {{ delimiter_text }}{{ ordered }})
{%- else -%}
array_to_string(list_slice(array_agg({{ measure }}{{ ordered }}), 1, {{ limit_num }}), {{ delimiter_text }})
{%- endif -%}`,
  },
];
