import { type BuiltinMacroFile } from './cross-database-macro.js';

/**
 * The naming macros of dbt's own package that a project's `generate_schema_name` or
 * `generate_alias_name` commonly delegates to. Parse calls the project's macro only when it defines
 * one (runtime/parse/naming-macros.ts); these are what such a macro can call, with dbt's documented
 * results:
 * - `default__generate_schema_name`: the target's schema, or `<target schema>_<custom schema>`;
 * - `generate_schema_name_for_env`: the custom schema itself on the target named `prod`, the
 *   target's schema everywhere else;
 * - `default__generate_alias_name`: the custom alias, or the node's name.
 */
export const NAMING_MACROS_FILE: BuiltinMacroFile = {
  path: 'smelter/dbt/naming.sql',
  text: `{% macro default__generate_schema_name(custom_schema_name, node) -%}
  {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ target.schema }}_{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}

{% macro generate_schema_name_for_env(custom_schema_name, node) -%}
  {%- if target.name == 'prod' and custom_schema_name is not none -%}{{ custom_schema_name | trim }}{%- else -%}{{ target.schema }}{%- endif -%}
{%- endmacro %}

{% macro default__generate_alias_name(custom_alias_name=none, node=none) -%}
  {%- if custom_alias_name is none -%}{{ node.name }}{%- else -%}{{ custom_alias_name | trim }}{%- endif -%}
{%- endmacro %}
`,
};
