import { createHash } from 'node:crypto';
import { sha256Text } from '../util/sha256-text.js';
import { basename } from 'node:path';
import { ProjectError, type SourceLocation } from '../errors.js';
import type { ModelNode, SeedNode, SourceNode, TestConfig, TestNode } from '../manifest/types.js';
import { didYouMean } from '../util/did-you-mean.js';
import type { TestDeclaration } from './properties.js';
import { scanTemplate } from './jinja-scan.js';

/**
 * Data tests (SPEC §6) from their declarations: generic tests from YAML `tests:`/`data_tests:`
 * entries, singular tests from SQL files. Pure: names, configs and dependencies; the SQL is made
 * when a test runs (render/test-sql.ts).
 */

/** The generic tests smelter knows without a `{% test %}` macro, with their arguments. */
export const BUILT_IN_TESTS: Readonly<Record<string, { readonly column: boolean; readonly required: readonly string[]; readonly optional: readonly string[] }>> = {
  unique: { column: true, required: [], optional: [] },
  not_null: { column: true, required: [], optional: [] },
  accepted_values: { column: true, required: ['values'], optional: ['quote'] },
  relationships: { column: true, required: ['to', 'field'], optional: [] },
  expression_is_true: { column: false, required: ['expression'], optional: [] },
  unique_combination_of_columns: { column: false, required: ['combination_of_columns'], optional: [] },
};

/** dbt's test config keys: under `config:`, or (the older style) beside the test's arguments. */
const CONFIG_KEYS = [
  'severity',
  'tags',
  'enabled',
  'where',
  'limit',
  'warn_if',
  'error_if',
  'fail_calc',
  'store_failures',
  'store_failures_as',
  'meta',
  'alias',
  'database',
  'schema',
] as const;
/** A test argument dbt renders as a call: `ref('x')`, `source('s', 't')`, `var('v')`, `env_var('E')`, `doc('d')`. */
export const CALL_ARGUMENT = /^\s*(env_var|ref|var|source|doc)\s*\(.+\)\s*$/s;
const THRESHOLD = /^\s*(==|!=|>=|<=|>|<|=)\s*\d+\s*$/;

export interface TestTarget {
  readonly node: ModelNode | SeedNode | SourceNode;
  readonly declarations: readonly TestDeclaration[];
}

/** dbt's names for a generic test: the full one (unique_id, fqn) and one under 64 characters. */
export function synthesizeTestName(testName: string, targetName: string, args: Readonly<Record<string, unknown>>): { full: string; short: string } {
  const flat: string[] = [];
  for (const key of Object.keys(args).sort()) {
    if (key === 'model') continue;
    const value = args[key];
    const parts = value !== null && typeof value === 'object' ? (Array.isArray(value) ? value : Object.values(value)) : [value];
    flat.push(...parts.map((p) => String(p)));
  }
  const unique = flat.map((p) => p.replace(/[^0-9a-zA-Z_]+/g, '_')).join('__');
  const identifier = `${testName}_${targetName}`;
  const full = `${identifier}_${unique}`;
  const short = full.length >= 64 ? `${identifier.slice(0, 30)}_${createHash('md5').update(full).digest('hex')}` : full;
  return { full, short };
}

export interface GenericTestContext {
  readonly projectName: string;
  /** `{% test name %}` macros, by test name, with the unique_ids of the macros they use. */
  readonly customTests: ReadonlyMap<string, readonly string[]>;
  readonly resolveRef: (name: string, packageName?: string) => ModelNode | SeedNode | undefined;
  readonly resolveSource: (source: string, table: string) => SourceNode | undefined;
  /** A node that failed to parse (its error is reported): what refers to it is not an error too. */
  readonly isBroken?: (ref: { readonly name: string } | { readonly source: string; readonly table: string }) => boolean;
}

/**
 * One generic test declared on a model, seed or source table; a bad declaration throws, located at
 * the key at fault. Undefined when the test refers to a node that failed to parse.
 */
export function genericTest(
  target: ModelNode | SeedNode | SourceNode,
  declaration: TestDeclaration,
  ctx: GenericTestContext,
): { node: TestNode; enabled: boolean } | undefined {
  const entry: SourceLocation = { file: declaration.file, line: declaration.line, column: declaration.column_number };
  const failAt = (path: readonly (string | number)[] | undefined, message: string, hint?: string) =>
    new ProjectError(message, { code: 'config', location: path === undefined ? entry : declaration.locate(path), hint });
  const fail = (message: string, hint?: string) => failAt(undefined, message, hint);
  const { testName, args, argsPath } = splitDeclaration(declaration.raw, fail);
  /** Where each argument was written: beside the config, or under `arguments:` (dbt 1.10). */
  const argumentsAt = new Map<string, (string | number)[]>();
  const argAt = (key: string, ...path: (string | number)[]) => [...(argumentsAt.get(key) ?? [...argsPath, key]), ...path];
  if ('arguments' in args) {
    const given = args.arguments;
    delete args.arguments;
    if (given !== null && given !== undefined) {
      if (typeof given !== 'object' || Array.isArray(given)) throw failAt([...argsPath, 'arguments'], `${testName}: arguments must be a mapping`);
      for (const [key, value] of Object.entries(given)) {
        if (key in args) throw failAt([...argsPath, 'arguments', key], `${testName}: ${key} is given twice, under arguments and beside them`);
        args[key] = value;
        argumentsAt.set(key, [...argsPath, 'arguments', key]);
      }
    }
  }
  // A test's description (dbt 1.9) documents it; it is no argument.
  delete args.description;
  const builtIn = BUILT_IN_TESTS[testName];
  const custom = ctx.customTests.get(testName);
  const dot = testName.indexOf('.');
  const namespace = dot === -1 ? undefined : testName.slice(0, dot);
  const bareName = dot === -1 ? testName : testName.slice(dot + 1);
  if (!builtIn && !custom) {
    throw fail(`unknown test '${testName}'`, didYouMean(testName, [...Object.keys(BUILT_IN_TESTS), ...ctx.customTests.keys()]) ?? 'define it with {% test name(model, column_name) %} in a macro file');
  }
  const config: Record<string, unknown> = {};
  /** Where each config value was written: among the arguments, or under their `config:`. */
  const configAt: Record<string, (string | number)[]> = {};
  const nested = args.config;
  delete args.config;
  for (const key of CONFIG_KEYS) {
    if (key in args) {
      config[key] = args[key];
      configAt[key] = argAt(key);
      delete args[key];
    }
  }
  if (nested !== undefined) {
    if (nested === null || typeof nested !== 'object' || Array.isArray(nested)) throw failAt([...argsPath, 'config'], `${testName}: config must be a mapping`);
    for (const [key, value] of Object.entries(nested)) {
      if (!(CONFIG_KEYS as readonly string[]).includes(key)) throw failAt([...argsPath, 'config', key], `${testName}: unknown test config '${key}'`, didYouMean(key, CONFIG_KEYS));
      config[key] = value;
      configAt[key] = [...argsPath, 'config', key];
    }
  }
  const customName = args.name;
  delete args.name;
  if (customName !== undefined && typeof customName !== 'string') throw failAt(argAt('name'), `${testName}: name must be a string`);
  if (declaration.column !== undefined) args.column_name = declaration.column;
  // A project's own `{% test not_null %}` replaces the built-in, as in dbt: its arguments are its own.
  if (builtIn && !custom) {
    if (builtIn.column && typeof args.column_name !== 'string') throw fail(`${testName} tests a column: declare it under a column, or give column_name`);
    const allowed = ['column_name', ...builtIn.required, ...builtIn.optional];
    for (const key of Object.keys(args)) if (!allowed.includes(key)) throw failAt(argAt(key), `${testName}: unknown argument '${key}'`, didYouMean(key, allowed));
    for (const key of builtIn.required) if (args[key] === undefined || args[key] === null) throw failAt(argsPath, `${testName} needs ${key}`);
    checkBuiltInArgs(testName, args, (key, message) => failAt(argAt(key), message));
  }
  const testConfig = checkConfig(config, testName, (key, message) => failAt(configAt[key], message));

  const isSource = target.resource_type === 'source';
  const targetName = isSource ? `${target.source_name}_${target.name}` : target.name;
  // dbt's name: the namespace (`dbt_utils_`), `source_` for a source's test, the test, the target, the arguments.
  const nameOfTest = `${namespace === undefined ? '' : `${namespace}_`}${isSource ? 'source_' : ''}${bareName}`;
  const names = customName ? { full: customName, short: customName } : synthesizeTestName(nameOfTest, targetName, args);
  const dependsOn = [target.unique_id];
  if (testName === 'relationships' && !custom) {
    const parent = relationshipTarget(String(args.to), ctx, (message) => failAt(argAt('to'), message));
    if (parent === undefined) return undefined;
    if (!dependsOn.includes(parent.unique_id)) dependsOn.push(parent.unique_id);
  } else {
    // An argument written `ref('x')` or `source('s', 't')` is that relation when the test runs: the test depends on it.
    for (const { key, value } of callArguments(args)) {
      if (!/^\s*(ref|source)\s*\(/.test(value)) continue;
      const parent = referencedNode(value, ctx, (message) => failAt(argAt(key), `${testName}: ${key}: ${message}`));
      if (parent === undefined) return undefined;
      if (!dependsOn.includes(parent.unique_id)) dependsOn.push(parent.unique_id);
    }
  }
  const node: TestNode = {
    resource_type: 'test',
    unique_id: `test.${ctx.projectName}.${names.full}`,
    name: names.full,
    alias: names.short,
    package_name: ctx.projectName,
    original_file_path: declaration.file,
    path: declaration.file,
    fqn: [ctx.projectName, names.full],
    tags: testConfig.tags,
    description: '',
    columns: {},
    test_type: 'generic',
    test_metadata: { name: testName, kwargs: args },
    ...(typeof args.column_name === 'string' ? { column_name: args.column_name } : {}),
    attached_node: target.unique_id,
    refs: [],
    sources: [],
    checksum: sha256Text(JSON.stringify([testName, args, testConfig])),
    config: testConfig,
    depends_on: { nodes: dependsOn, macros: custom ? [...custom] : [] },
    line: declaration.line,
  };
  return { node, enabled: testConfig.enabled };
}

/**
 * `unique`, `{unique: {...}}` or `{test_name: unique, ...}`: the test's name, a copy of its
 * arguments, and where in the entry they are.
 */
function splitDeclaration(raw: unknown, fail: (message: string) => ProjectError): { testName: string; args: Record<string, unknown>; argsPath: string[] } {
  if (typeof raw === 'string') return { testName: raw, args: {}, argsPath: [] };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw fail('a test must be a name or a mapping');
  const entries = Object.entries(raw as Record<string, unknown>);
  if ('test_name' in (raw as object)) {
    const { test_name: testName, ...args } = raw as Record<string, unknown>;
    if (typeof testName !== 'string') throw fail('test_name must be a string');
    return { testName, args: { ...args }, argsPath: [] };
  }
  if (entries.length !== 1) throw fail(`a test mapping has one key, the test's name (got ${entries.map(([k]) => k).join(', ')})`);
  const [[testName, args]] = entries;
  if (args !== null && args !== undefined && (typeof args !== 'object' || Array.isArray(args))) throw fail(`${testName}: its arguments must be a mapping`);
  return { testName, args: { ...((args as Record<string, unknown> | null) ?? {}) }, argsPath: [testName] };
}

/** `fail(key, message)`: an error located at the argument or config key at fault. */
type FailAt = (key: string, message: string) => ProjectError;

function checkBuiltInArgs(testName: string, args: Record<string, unknown>, fail: FailAt): void {
  const stringList = (key: string) => {
    const v = args[key];
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')) {
      throw fail(key, `${testName}: ${key} must be a non-empty list`);
    }
  };
  if (testName === 'accepted_values') {
    stringList('values');
    if (args.quote !== undefined && typeof args.quote !== 'boolean') throw fail('quote', 'accepted_values: quote must be true or false');
  }
  if (testName === 'unique_combination_of_columns') stringList('combination_of_columns');
  if (testName === 'relationships' && (typeof args.to !== 'string' || typeof args.field !== 'string')) {
    throw fail(typeof args.to !== 'string' ? 'to' : 'field', "relationships: to is ref('model') or source('name', 'table'), field a column name");
  }
  if (testName === 'expression_is_true' && typeof args.expression !== 'string') throw fail('expression', 'expression_is_true: expression must be a string');
}

function checkConfig(config: Record<string, unknown>, testName: string, fail: FailAt): TestConfig {
  const severity = config.severity ?? 'error';
  if (typeof severity !== 'string' || !['error', 'warn'].includes(severity.toLowerCase())) throw fail('severity', `${testName}: severity must be error or warn`);
  for (const key of ['warn_if', 'error_if'] as const) {
    if (config[key] !== undefined && (typeof config[key] !== 'string' || !THRESHOLD.test(config[key] as string))) {
      throw fail(key, `${testName}: ${key} must be a comparison with a number, such as '!= 0' or '> 10'`);
    }
  }
  if (config.where !== undefined && typeof config.where !== 'string') throw fail('where', `${testName}: where must be a string`);
  if (config.store_failures !== undefined && config.store_failures !== null && typeof config.store_failures !== 'boolean') throw fail('store_failures', `${testName}: store_failures must be true or false`);
  const storeAs = config.store_failures_as;
  if (storeAs !== undefined && storeAs !== null && !['table', 'view', 'ephemeral'].includes(storeAs as string)) throw fail('store_failures_as', `${testName}: store_failures_as must be table, view or ephemeral`);
  if (config.fail_calc !== undefined && (typeof config.fail_calc !== 'string' || config.fail_calc.trim() === '')) throw fail('fail_calc', `${testName}: fail_calc must be a SQL expression, such as 'count(*)'`);
  for (const key of ['alias', 'schema', 'database'] as const) {
    if (config[key] !== undefined && config[key] !== null && typeof config[key] !== 'string') throw fail(key, `${testName}: ${key} must be a string`);
  }
  if (config.enabled !== undefined && typeof config.enabled !== 'boolean') throw fail('enabled', `${testName}: enabled must be true or false`);
  if (config.limit !== undefined && (!Number.isInteger(config.limit) || (config.limit as number) < 0)) throw fail('limit', `${testName}: limit must be a whole number`);
  const tags = config.tags === undefined ? [] : typeof config.tags === 'string' ? [config.tags] : config.tags;
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) throw fail('tags', `${testName}: tags must be a string or a list of strings`);
  if (config.meta !== undefined && (config.meta === null || typeof config.meta !== 'object' || Array.isArray(config.meta))) throw fail('meta', `${testName}: meta must be a mapping`);
  return {
    enabled: (config.enabled as boolean | undefined) ?? true,
    tags,
    severity: severity.toLowerCase() as 'error' | 'warn',
    ...(config.where !== undefined ? { where: config.where as string } : {}),
    ...(config.limit !== undefined ? { limit: config.limit as number } : {}),
    warn_if: (config.warn_if as string | undefined) ?? '!= 0',
    error_if: (config.error_if as string | undefined) ?? '!= 0',
    // Unset unless given: a test's template may set it with config(); count(*) otherwise.
    ...(config.fail_calc !== undefined ? { fail_calc: config.fail_calc as string } : {}),
    // dbt: store_failures_as (table or view) stores the failures; ephemeral stores nothing, whatever store_failures says.
    store_failures: storeAs === 'table' || storeAs === 'view' ? true : storeAs === 'ephemeral' ? false : ((config.store_failures as boolean | null | undefined) ?? false),
    ...(storeAs === 'table' || storeAs === 'view' ? { store_failures_as: storeAs } : {}),
    meta: (config.meta as Record<string, unknown> | undefined) ?? {},
    ...(typeof config.alias === 'string' ? { alias: config.alias } : {}),
    ...(typeof config.schema === 'string' ? { schema: config.schema } : {}),
    ...(typeof config.database === 'string' ? { database: config.database } : {}),
  };
}

/** relationships' `to`: `ref('x')` or `source('s', 't')`, read without rendering; undefined when that failed to parse. */
function relationshipTarget(to: string, ctx: GenericTestContext, fail: (message: string) => ProjectError): ModelNode | SeedNode | SourceNode | undefined {
  if (!/^\s*(ref|source)\s*\(/.test(to)) throw fail(`relationships: to must be ref('model') or source('name', 'table'), got ${JSON.stringify(to)}`);
  return referencedNode(to, ctx, (message) => fail(`relationships: to: ${message}`));
}

/** The string arguments (at any depth) dbt renders as calls, with the top-level argument each is under. */
export function callArguments(args: Readonly<Record<string, unknown>>): Array<{ key: string; value: string }> {
  const out: Array<{ key: string; value: string }> = [];
  const visit = (key: string, value: unknown) => {
    if (typeof value === 'string' && CALL_ARGUMENT.test(value)) out.push({ key, value });
    else if (Array.isArray(value)) value.forEach((v) => visit(key, v));
    else if (value !== null && typeof value === 'object') Object.values(value).forEach((v) => visit(key, v));
  };
  for (const [key, value] of Object.entries(args)) if (key !== 'column_name') visit(key, value);
  return out;
}

/** `ref('x')`, `ref('pkg', 'x')` or `source('s', 't')` with literal names, resolved; undefined when it names a node that failed to parse. */
function referencedNode(call: string, ctx: GenericTestContext, fail: (message: string) => ProjectError): ModelNode | SeedNode | SourceNode | undefined {
  const ref = /^\s*ref\(\s*(?:['"]([^'"]+)['"]\s*,\s*)?['"]([^'"]+)['"]\s*\)\s*$/.exec(call);
  if (ref) {
    const node = ctx.resolveRef(ref[2], ref[1]);
    if (!node && ctx.isBroken?.({ name: ref[2] })) return undefined;
    if (!node) throw fail(`${call.trim()}: no model or seed named ${ref[2]}${ref[1] === undefined ? '' : ` in package ${ref[1]}`}`);
    return node;
  }
  const source = /^\s*source\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)\s*$/.exec(call);
  if (source) {
    const node = ctx.resolveSource(source[1], source[2]);
    if (!node && ctx.isBroken?.({ source: source[1], table: source[2] })) return undefined;
    if (!node) throw fail(`source('${source[1]}', '${source[2]}'): no such source table`);
    return node;
  }
  throw fail(`${call.trim()} must name its model or source with literal strings`);
}

/** A singular test: a SQL file under data-test-paths whose rows are failures. */
export function singularTest(path: string, text: string, projectName: string): { node: TestNode; enabled: boolean } {
  const name = basename(path, '.sql');
  const scan = scanTemplate(text);
  const refs = [];
  const sources = [];
  const config: Record<string, unknown> = {};
  const configAt: Record<string, SourceLocation> = {};
  for (const call of scan.calls) {
    const location = { file: path, line: call.line, column: call.column };
    if ((call.name === 'ref' || call.name === 'source' || call.name === 'config') && !call.literal) {
      throw new ProjectError(`${call.name}() in a singular test must have literal arguments`, { code: 'config', location });
    }
    if (call.name === 'ref') refs.push({ name: String(call.args[call.args.length - 1]), line: call.line });
    if (call.name === 'source') sources.push({ source: String(call.args[0]), table: String(call.args[1]), line: call.line });
    if (call.name === 'config') {
      for (const [key, value] of Object.entries(call.kwargs)) {
        if (!(CONFIG_KEYS as readonly string[]).includes(key)) throw new ProjectError(`unknown test config '${key}'`, { code: 'config', location, hint: didYouMean(key, CONFIG_KEYS) });
        config[key] = value;
        configAt[key] = location;
      }
    }
  }
  const testConfig = checkConfig(config, name, (key, message) => new ProjectError(message, { code: 'config', location: configAt[key] ?? { file: path } }));
  const node: TestNode = {
    resource_type: 'test',
    unique_id: `test.${projectName}.${name}`,
    name,
    alias: name,
    package_name: projectName,
    original_file_path: path,
    path,
    fqn: [projectName, name],
    tags: testConfig.tags,
    description: '',
    columns: {},
    test_type: 'singular',
    raw_code: text,
    refs,
    sources,
    checksum: sha256Text(text),
    config: testConfig,
    depends_on: { nodes: [], macros: [] },
  };
  return { node, enabled: testConfig.enabled };
}

/**
 * dbt writes generic tests as `{% test name(model, column_name) %}...{% endtest %}`: to Nunjucks
 * that is the macro `test_name`. Same line numbers.
 */
export function translateTestBlocks(text: string): string {
  return text.replace(/\{%(-?)(\s*)test(\s+)([A-Za-z_][A-Za-z0-9_]*)(\s*)\(/g, '{%$1$2macro$3test_$4$5(').replace(/\{%(-?)(\s*)endtest(\s*-?%\})/g, '{%$1$2endmacro$3');
}
