import type { MacroFile } from './template-engine.js';

/** dbt's cross-database macros for DuckDB, loaded as the package `dbt` (filled in by the crossdb branch). */
export const DBT_BUILTIN_MACRO_FILES: readonly MacroFile[] = [];
