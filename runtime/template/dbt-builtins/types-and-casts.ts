import type { CrossDatabaseMacro } from './cross-database-macro.js';

/** dbt's data type and cast macros, for DuckDB. */
export const TYPE_AND_CAST_MACROS: readonly CrossDatabaseMacro[] = [
  { name: 'type_string', params: [], body: 'varchar' },
  { name: 'type_timestamp', params: [], body: 'timestamp' },
  // dbt's float is double precision on the warehouses it targets; DuckDB's FLOAT is 4 bytes.
  { name: 'type_float', params: [], body: 'double' },
  { name: 'type_numeric', params: [], body: 'numeric(28,6)' },
  { name: 'type_bigint', params: [], body: 'bigint' },
  { name: 'type_int', params: [], body: 'integer' },
  { name: 'type_boolean', params: [], body: 'boolean' },
  { name: 'cast', params: ['field', 'type'], body: 'cast({{ field }} as {{ type }})' },
  // NULL where the value does not convert, instead of an error.
  { name: 'safe_cast', params: ['field', 'type'], body: 'try_cast({{ field }} as {{ type }})' },
  { name: 'cast_bool_to_text', params: ['field'], body: 'cast({{ field }} as varchar)' },
];
