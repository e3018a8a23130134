import type { CrossDatabaseMacro } from './cross-database-macro.js';

/** dbt's array macros, for DuckDB's lists. */
export const ARRAY_MACROS: readonly CrossDatabaseMacro[] = [
  { name: 'array_append', params: ['array', 'new_element'], body: 'list_append({{ array }}, {{ new_element }})' },
  { name: 'array_concat', params: ['array_1', 'array_2'], body: 'list_concat({{ array_1 }}, {{ array_2 }})' },
  {
    name: 'array_construct',
    // dbt's default type is its adapter's name for 'integer', which on DuckDB is integer.
    params: [['inputs', '[]'], ['data_type', "'integer'"]],
    // An empty list has no element type to infer, so it is cast; a filled one takes its elements'.
    body: `
{%- if inputs | length -%}
[{{ inputs | join(', ') }}]
{%- else -%}
cast([] as {{ data_type }}[])
{%- endif -%}`,
  },
];
