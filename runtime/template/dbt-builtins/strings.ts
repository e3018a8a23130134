import type { CrossDatabaseMacro } from './cross-database-macro.js';

/** dbt's string macros, for DuckDB. Arguments are SQL expressions unless said otherwise. */
export const STRING_MACROS: readonly CrossDatabaseMacro[] = [
  {
    name: 'concat',
    params: ['fields'],
    // `||` rather than DuckDB's concat(): a NULL part makes the whole NULL, as on the other adapters.
    body: "{{ fields | join(' || ') }}",
  },
  { name: 'hash', params: ['field'], body: 'md5(cast({{ field }} as varchar))' },
  { name: 'length', params: ['expression'], body: 'length({{ expression }})' },
  {
    name: 'position',
    params: ['substring_text', 'string_text'],
    body: 'position({{ substring_text }} in {{ string_text }})',
  },
  {
    name: 'replace',
    params: ['field', 'old_chars', 'new_chars'],
    body: 'replace({{ field }}, {{ old_chars }}, {{ new_chars }})',
  },
  { name: 'right', params: ['string_text', 'length_expression'], body: 'right({{ string_text }}, {{ length_expression }})' },
  {
    name: 'split_part',
    params: ['string_text', 'delimiter_text', 'part_number'],
    // DuckDB counts a negative part from the end, and answers '' for a part that is not there.
    body: 'split_part({{ string_text }}, {{ delimiter_text }}, {{ part_number }})',
  },
  {
    name: 'escape_single_quotes',
    params: ['expression'],
    // A Jinja string, not a column: the text goes inside a SQL literal.
    body: `{{ (expression ~ '') | replace("'", "''") }}`,
  },
  {
    name: 'string_literal',
    params: ['value'],
    // Quotes inside the value are doubled, so any Jinja string makes a valid literal.
    body: `'{{ (value ~ '') | replace("'", "''") }}'`,
  },
];
