import type { CrossDatabaseMacro } from './cross-database-macro.js';

/** dbt's set operators; DuckDB's remove duplicates, as dbt's do everywhere. */
export const SET_OPERATOR_MACROS: readonly CrossDatabaseMacro[] = [
  { name: 'except', params: [], body: 'except' },
  { name: 'intersect', params: [], body: 'intersect' },
];
