import type { CrossDatabaseMacro } from './cross-database-macro.js';

/** dbt's number series, which its date_spine builds on. */
export const SERIES_MACROS: readonly CrossDatabaseMacro[] = [
  {
    name: 'get_powers_of_two',
    params: ['upper_bound'],
    // The fewest bits that count to upper_bound (at least 1): a value for the caller, not SQL.
    body: `
{%- if upper_bound <= 0 -%}
  {{- exceptions.raise_compiler_error('get_powers_of_two(): the upper bound must be positive, got ' ~ upper_bound) -}}
{%- endif -%}
{%- for bits in range(1, 64) -%}
  {%- if 2 ** bits >= upper_bound -%}{{- return(bits) -}}{%- endif -%}
{%- endfor -%}
{{- exceptions.raise_compiler_error('get_powers_of_two(): the upper bound is too large, got ' ~ upper_bound) -}}`,
  },
  {
    name: 'generate_series',
    params: ['upper_bound'],
    // A query of the numbers 1 to upper_bound in column generated_number. DuckDB has the series
    // built in; a bound that is not positive is refused, as by dbt's powers-of-two construction.
    body: `
{%- if upper_bound <= 0 -%}
  {{- exceptions.raise_compiler_error('generate_series(): the upper bound must be positive, got ' ~ upper_bound) -}}
{%- endif -%}
select generated_number from generate_series(1, {{ upper_bound }}) as series(generated_number)`,
  },
];
