import { TemplateUserError } from '../template/strict-compiler.js';
import { pythonDatetime } from '../template/py-modules.js';
import type { RenderScope } from '../template/template-engine.js';
import { envVar } from '../project/load-project.js';
import { didYouMean } from '../util/did-you-mean.js';
import type { TargetConfig } from '../project/project-config.js';
import type { Manifest, ManifestNode } from '../manifest/types.js';
import { splitArgs } from './call-args.js';
import { databaseContext } from './database-context.js';
import type { DatabaseAnswers } from './query-table.js';
import { catalogName, flagsContext, graphContext, nodeDict, targetContext, type RenderFlags } from './project-context.js';
import { RelationObject, relationFromText } from './relation-object.js';

/**
 * How the context functions answer. Parse records calls and answers placeholders; execution
 * answers with real relations and state. Everything else in the context is the same in both.
 */
export interface ContextResolver {
  /** The relation text (parts recovered from it), or the relation itself when the resolver knows its parts. */
  ref(name: string, packageName?: string): string | RelationObject;
  source(sourceName: string, tableName: string): string | RelationObject;
  config(values: Record<string, unknown>): void;
  isIncremental(): boolean;
  watermark(): string;
}

export interface ContextInputs {
  readonly resolver: ContextResolver;
  readonly varValues: Readonly<Record<string, unknown>>;
  readonly env: NodeJS.ProcessEnv;
  readonly target: TargetConfig;
  /** The node's own relation (`this`), or its text; undefined outside a model (hooks). */
  readonly thisRelation?: string | RelationObject;
  readonly runStartedAt: Date;
  readonly invocationId: string;
  /** The database (run_query, statement, adapter.get_relation, ...); without it `execute` is false. */
  readonly database?: DatabaseAnswers;
  /** The project's nodes (`graph`). */
  readonly manifest?: Manifest;
  /** The node being rendered (`model`). */
  readonly node?: ManifestNode;
  /** The command (`flags.WHICH`) and its options. */
  readonly flags?: RenderFlags;
  /** Receives `{% call set_sql_header(config) %}` blocks: SQL to run before the model's statement. */
  readonly sqlHeader?: (sql: string) => void;
  /** Names only some renders have (on-run-end's `results`, `schemas`, `database_schemas`). */
  readonly extraValues?: Readonly<Record<string, unknown>>;
}

export { splitArgs } from './call-args.js';

/** dbt's template context for one render. */
export function buildRenderScope(inputs: ContextInputs): RenderScope {
  const { resolver } = inputs;
  const database = databaseContext(inputs.database);
  const needString = (fn: string, what: string, v: unknown): string => {
    if (typeof v !== 'string' || v === '') throw new TemplateUserError(`${fn}() needs ${what} as a string, got ${JSON.stringify(v)}`);
    return v;
  };
  // config.get() sees the node's resolved config (at run time) and what config() set in this render.
  const configSet: Record<string, unknown> = {};
  const nodeConfig = (inputs.node && 'config' in inputs.node ? inputs.node.config : {}) as Readonly<Record<string, unknown>>;
  const configValue = (key: string): unknown => {
    const canonical = key.replace(/-/g, '_');
    return configSet[key] ?? configSet[canonical] ?? nodeConfig[canonical];
  };
  const functions = {
    ref(...args: unknown[]) {
      const { positional } = splitArgs(args);
      if (positional.length === 2) return asRelation(resolver.ref(needString('ref', 'a model name', positional[1]), needString('ref', 'a package name', positional[0])));
      if (positional.length !== 1) throw new TemplateUserError(`ref() takes a model name, got ${positional.length} arguments`);
      return asRelation(resolver.ref(needString('ref', 'a model name', positional[0])));
    },
    source(...args: unknown[]) {
      const { positional } = splitArgs(args);
      if (positional.length !== 2) throw new TemplateUserError(`source() takes a source name and a table name, got ${positional.length} arguments`);
      return asRelation(resolver.source(needString('source', 'a source name', positional[0]), needString('source', 'a table name', positional[1])));
    },
    config: Object.assign(
      (...args: unknown[]) => {
        const { positional, kwargs } = splitArgs(args);
        const values = { ...kwargs };
        for (const p of positional) {
          if (p === null || typeof p !== 'object' || Array.isArray(p)) throw new TemplateUserError('config() takes keyword arguments, e.g. config(materialized=\'table\')');
          Object.assign(values, p);
        }
        Object.assign(configSet, values);
        resolver.config(values);
        return '';
      },
      {
        /** dbt's `config.get(key, default)`: the node's config, with what this render set by config() over it. */
        get(...args: unknown[]) {
          const { positional, kwargs } = splitArgs(args);
          const key = needString('config.get', 'a config key', positional[0] ?? kwargs.name);
          const value = configValue(key);
          return value === undefined ? (positional.length > 1 ? positional[1] : (kwargs.default ?? null)) : value;
        },
        /** dbt's `config.require(key)`: the value, or (when the node renders to run) an error naming the key. */
        require(...args: unknown[]) {
          const { positional, kwargs } = splitArgs(args);
          const key = needString('config.require', 'a config key', positional[0] ?? kwargs.name);
          const value = configValue(key);
          if (value !== undefined && value !== null) return value;
          // At parse the node's config is not resolved yet: dbt checks only when the node runs.
          if (!inputs.node) return '';
          throw new TemplateUserError(`config.require('${key}'): the config has no ${key}`);
        },
      },
    ),
    var(...args: unknown[]) {
      const { positional, kwargs } = splitArgs(args);
      const name = needString('var', 'a variable name', positional[0]);
      const hasDefault = positional.length > 1 || 'default' in kwargs;
      const fallback = positional.length > 1 ? positional[1] : kwargs.default;
      return lookupVar(inputs.varValues, name, hasDefault, fallback);
    },
    env_var(...args: unknown[]) {
      const { positional } = splitArgs(args);
      return envVar(inputs.env, positional[0], positional[1]);
    },
    is_incremental: () => resolver.isIncremental(),
    watermark: () => resolver.watermark(),
    set_sql_header(...args: unknown[]) {
      const caller = splitArgs(args).kwargs.caller as (() => unknown) | undefined;
      if (typeof caller !== 'function') throw new TemplateUserError('set_sql_header() is a call block: {% call set_sql_header(config) %} SQL {% endcall %}');
      const sql = String(caller()).trim();
      if (sql !== '') inputs.sqlHeader?.(sql);
      return '';
    },
    ...database.functions,
  };
  const catalog = catalogName(inputs.target);
  return {
    functions,
    values: {
      ...database.values,
      this: inputs.thisRelation === undefined ? undefined : asRelation(inputs.thisRelation),
      target: strictObject('target', targetContext(inputs.target)),
      run_started_at: pythonDatetime(inputs.runStartedAt),
      invocation_id: inputs.invocationId,
      model: inputs.node ? nodeDict(inputs.node, catalog) : parseTimeModel(inputs.thisRelation),
      graph: inputs.manifest ? graphContext(inputs.manifest, catalog) : { nodes: {}, sources: {}, exposures: {}, metrics: {}, groups: {}, semantic_models: {}, saved_queries: {} },
      flags: flagsContext(inputs.flags),
      ...inputs.extraValues,
    },
  };
}

/**
 * `model` where the caller has no node yet (parse renders a model before its node exists): the
 * name from `this`, so templates that only name the model (dbt_utils' deprecation warnings) parse.
 */
function parseTimeModel(thisRelation: string | RelationObject | undefined): Record<string, unknown> | undefined {
  if (thisRelation === undefined) return undefined;
  const name = asRelation(thisRelation).identifier;
  return { name, alias: name, resource_type: 'model', package_name: null, unique_id: null, config: {}, columns: {}, tags: [], depends_on: { nodes: [], macros: [] } };
}

function asRelation(value: string | RelationObject): RelationObject {
  return typeof value === 'string' ? relationFromText(value) : value;
}

/** var(name, default): declared vars resolve; an undeclared name needs a default (dbt's rule). */
export function lookupVar(varValues: Readonly<Record<string, unknown>>, name: string, hasDefault: boolean, fallback: unknown): unknown {
  if (Object.prototype.hasOwnProperty.call(varValues, name)) {
    const value = varValues[name];
    return (value === null || value === undefined) && hasDefault ? fallback : value;
  }
  if (hasDefault) return fallback;
  throw new TemplateUserError(
    `var '${name}' is not declared in project.yml and has no default`,
    didYouMean(name, Object.keys(varValues)) ?? `declare it under vars: or call var('${name}', default)`,
  );
}

/** An object whose misspelled attributes are errors (`target.nmae`), not silent undefined. */
function strictObject(label: string, value: Record<string, unknown>): Record<string, unknown> {
  return new Proxy(value, {
    get(obj, key) {
      if (typeof key !== 'string' || key in obj) return Reflect.get(obj, key);
      // Probes by the template runtime and JS itself, not the user's.
      if (key === 'toJSON' || key === 'then' || key === '__keywords' || key === 'length' || key === 'constructor') return undefined;
      throw new TemplateUserError(`'${label}' has no attribute '${key}'`, didYouMean(key, Object.keys(obj)));
    },
  });
}
