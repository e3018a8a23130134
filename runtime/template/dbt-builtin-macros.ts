import { crossDatabaseMacroFile, type BuiltinMacroFile } from './dbt-builtins/cross-database-macro.js';
import { HELPER_MACROS_FILE } from './dbt-builtins/helpers.js';
import { DATE_MACROS } from './dbt-builtins/dates.js';
import { STRING_MACROS } from './dbt-builtins/strings.js';
import { AGGREGATE_MACROS } from './dbt-builtins/aggregates.js';
import { ARRAY_MACROS } from './dbt-builtins/arrays.js';
import { TYPE_AND_CAST_MACROS } from './dbt-builtins/types-and-casts.js';
import { SET_OPERATOR_MACROS } from './dbt-builtins/set-operators.js';
import { SERIES_MACROS } from './dbt-builtins/series.js';
import { NAMING_MACROS_FILE } from './dbt-builtins/naming.js';

export type { BuiltinMacroFile };

/** Every cross-database macro of dbt's `dbt` package that we provide. */
export const CROSS_DATABASE_MACROS = [
  ...TYPE_AND_CAST_MACROS,
  ...SET_OPERATOR_MACROS,
  ...ARRAY_MACROS,
  ...STRING_MACROS,
  ...AGGREGATE_MACROS,
  ...DATE_MACROS,
  ...SERIES_MACROS,
] as const;

/**
 * dbt's cross-database macros written for DuckDB, as the macro files of the internal package
 * `dbt`. They are Jinja in TypeScript strings so that the Lambda bundle carries them. Each macro X
 * is a dispatcher (`adapter.dispatch('X', 'dbt')`) and `default__X`, DuckDB's SQL. With them, the
 * naming macros a project's `generate_schema_name` may delegate to (dbt-builtins/naming.ts).
 */
// Deferred: compiled on first call of one of their macros (TemplateEngine); a render rarely calls more than a few.
export const DBT_BUILTIN_MACRO_FILES: ReadonlyArray<BuiltinMacroFile & { readonly deferred: true }> = [
  HELPER_MACROS_FILE,
  NAMING_MACROS_FILE,
  ...CROSS_DATABASE_MACROS.map(crossDatabaseMacroFile),
].map((file) => ({ ...file, deferred: true as const }));
