import { ProjectError } from '../errors.js';
import type { RenderScope, TemplateEngine } from '../template/template-engine.js';
import { canonicalConfigKey } from '../project/config-keys.js';
import type { ConfigLayer } from './resolve-config.js';

/**
 * dbt lets a project decide where its models and seeds are built by defining
 * `generate_schema_name(custom_schema_name, node)` and `generate_alias_name(custom_alias_name, node)`.
 * When the project defines one, parse calls it once per node; without them the configured schema and
 * alias are used as given (smelter's own naming, unchanged).
 */
export const NAMING_MACROS = ['generate_schema_name', 'generate_alias_name'] as const;

/** What a naming macro sees as `node`: dbt's node attributes that a project's naming reads. */
export interface NamedNode {
  readonly resource_type: 'model' | 'seed';
  readonly name: string;
  readonly unique_id: string;
  readonly package_name: string;
  readonly original_file_path: string;
  /** Relative to the model or seed path it was found under. */
  readonly path: string;
  /** [project, ...folders, name]. */
  readonly fqn: readonly string[];
  /** The resolved config, with `schema` and `alias` as written (none when not written). */
  readonly config: Readonly<Record<string, unknown>>;
}

/** The schema and alias a node is built as: its config's, or what the project's macros say. */
export function nameRelation(
  engine: () => TemplateEngine,
  defined: ReadonlySet<string>,
  scope: () => RenderScope,
  node: Omit<NamedNode, 'config'> & { readonly config: { readonly schema: string; readonly alias: string } },
  layers: readonly ConfigLayer[],
  /** A dbt project's target schema: without its own macros, dbt's default naming applies. */
  dbtTargetSchema?: string,
): { schema: string; alias: string } {
  const custom = { schema: written(layers, 'schema') ? node.config.schema : null, alias: written(layers, 'alias') ? node.config.alias : null };
  // dbt's default: the target schema, or `<target schema>_<custom schema>`; the alias, or the name.
  const fallback = dbtTargetSchema === undefined
    ? { schema: node.config.schema, alias: node.config.alias }
    : { schema: custom.schema === null ? dbtTargetSchema : `${dbtTargetSchema}_${custom.schema.trim()}`, alias: custom.alias?.trim() ?? node.name };
  if (!NAMING_MACROS.some((m) => defined.has(m))) return fallback;
  const seen: NamedNode = { ...node, config: { ...node.config, ...custom } };
  const call = (macro: (typeof NAMING_MACROS)[number], what: 'schema' | 'alias') => {
    const text = `{{ ${macro}(${templateLiteral(custom[what])}, ${templateLiteral(seen)}) }}`;
    const name = engine().render(node.original_file_path, text, scope()).trim();
    if (name === '') {
      throw new ProjectError(`${macro} gave an empty ${what} for ${node.resource_type} ${node.name}`, { code: 'config', location: { file: node.original_file_path }, node: node.unique_id });
    }
    return name;
  };
  return {
    schema: defined.has('generate_schema_name') ? call('generate_schema_name', 'schema') : fallback.schema,
    alias: defined.has('generate_alias_name') ? call('generate_alias_name', 'alias') : fallback.alias,
  };
}

/** Whether some config layer wrote `key` (the resolved config always has a schema and an alias). */
function written(layers: readonly ConfigLayer[], key: string): boolean {
  return layers.some((layer) => Object.keys(layer.values).some((k) => canonicalConfigKey(k) === key));
}

/** A Nunjucks literal for plain data (YAML values, a node's attributes). */
export function templateLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (Array.isArray(value)) return `[${value.map(templateLiteral).join(', ')}]`;
  // Spaced braces: `{}}` would end the expression at its `}}`.
  if (typeof value === 'object') return `{ ${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${templateLiteral(v)}`).join(', ')} }`;
  return JSON.stringify(value);
}
