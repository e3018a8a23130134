import type nunjucksTypes from 'nunjucks';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { installStrictCompiler, TemplateLocatedError, TemplateUserError } from './strict-compiler.js';
import { didYouMean } from '../util/did-you-mean.js';
import { isStrayReturn, MacroReturn } from './macro-return.js';
import { ENGINE_GLOBALS, installJinjaCompat } from './jinja-compat.js';

// Loaded on first use: `smelter ls` on a project whose templates need no engine never pays for it.
const requireModule = createRequire(import.meta.url);
let nunjucksModule: typeof nunjucksTypes | undefined;
const nunjucks = () => (nunjucksModule ??= requireModule('nunjucks') as typeof nunjucksTypes);

/**
 * What a template can see: dbt's context. One scope per render; the engine exposes the innermost
 * scope to models and macros alike, so a macro that calls `ref()` resolves it for the model being
 * rendered.
 */
export interface RenderScope {
  readonly functions: Readonly<Record<string, (...args: any[]) => unknown>>;
  readonly values: Readonly<Record<string, unknown>>;
}

export interface MacroFile {
  /** Project-relative path. */
  readonly path: string;
  readonly text: string;
  /** The package defining it: undefined for the root project, `dbt` for smelter's built-in dbt macros. */
  readonly package?: string;
  /**
   * Compiled when one of its macros is first called, not when the engine starts: smelter's own
   * files (the built-in dbt macros, tested to compile), which most renders never call. Compiling
   * all of them took about 50 ms of every process that renders a template.
   */
  readonly deferred?: boolean;
}

/** How macros of several packages resolve (dbt's namespaces and `adapter.dispatch`). */
export interface MacroNamespaceOptions {
  /** The root project's name: `ref`/dispatch search it first. */
  readonly rootPackage?: string;
  /** dbt's `dispatch:` config: per macro namespace, the packages searched in order. */
  readonly dispatch?: Readonly<Record<string, readonly string[]>>;
  /**
   * A macro file that does not compile is handed here and left out, instead of failing the
   * engine (and so every render) — parse reports it once.
   */
  readonly onBrokenFile?: (file: MacroFile, error: TemplateLocatedError) => void;
  /** Each installed package's project-relative folder: a file rendered from there sees its package's macros by their bare names. */
  readonly packageDirs?: Readonly<Record<string, string>>;
}

/** The package of dbt's own macros (the cross-database ones smelter implements for DuckDB). */
export const INTERNAL_PACKAGE = 'dbt';
/** dispatch tries `duckdb__name`, then `default__name`, in each package searched. */
const ADAPTER_PREFIXES = ['duckdb', 'default'] as const;

/** Names every scope provides; macros may not shadow them. */
export const CONTEXT_NAMES = [
  'ref',
  'source',
  'config',
  'var',
  'env_var',
  'is_incremental',
  'watermark',
  'this',
  'target',
  'run_started_at',
  'invocation_id',
  'return',
  'log',
  'exceptions',
  'adapter',
  'execute',
  'run_query',
  'statement',
  'load_result',
  'load_relation',
  'api',
  'model',
  'graph',
  'flags',
  'set_sql_header',
  // A data test's: whether its failures are stored (render/test-sql.ts).
  'should_store_failures',
] as const;

/**
 * Names only on-run-end hooks have (execute/hooks.ts, onRunEndValues). Unlike CONTEXT_NAMES a macro
 * may take one of them: dbt's are only in that context, and a project's macro of that name wins.
 */
const ON_RUN_END_NAMES = ['results', 'schemas', 'database_schemas'] as const;

/**
 * Parse only (no code generation, no engine: a macro file can be checked before the engine that
 * loads it exists): throws a TemplateLocatedError for a syntax error, placed at `fallback` when the
 * parser gives no position, or only the end of the file (an unclosed block).
 */
export function checkTemplateSyntax(path: string, text: string, fallback: { line: number; column: number }): void {
  installStrictCompiler(); // Jinja's grammar (trailing commas, spreads, ...) is a patch of the parser
  const parser = requireModule('nunjucks/src/parser') as { parse(src: string, extensions: unknown[], opts: unknown): unknown };
  try {
    // With the engine's own tags ({% do %}), or a file using them would read as broken.
    parser.parse(text, [new DoTag()], {});
  } catch (error) {
    const located = locateError(error, path, 'template syntax error') as TemplateLocatedError;
    const known = (error as { lineno?: number }).lineno;
    if (known && !/end of file/.test(located.message)) throw located;
    throw new TemplateLocatedError(located.message, path, fallback.line, fallback.column, { cause: error });
  }
}

/**
 * `{% do expression %}`: evaluate an expression for its effect and output nothing — Jinja's `do`
 * extension, which dbt enables and its users write to fill lists and dicts
 * (`{% do columns.append(c) %}`, `{% do seen.update({k: v}) %}`; list and dict methods come from
 * Nunjucks' Jinja compatibility).
 */
class DoTag {
  readonly tags = ['do'];
  parse(parser: NunjucksParser, nodes: NunjucksNodes): unknown {
    const token = parser.nextToken();
    const expression = parser.parseExpression();
    parser.advanceAfterBlockEnd(token.value);
    return new nodes.CallExtension(this, 'run', new nodes.NodeList(token.lineno, token.colno, [expression]));
  }
  run(): string {
    return '';
  }
}

interface NunjucksParser {
  nextToken(): { value: string; lineno: number; colno: number };
  parseExpression(): unknown;
  advanceAfterBlockEnd(name: string): void;
}
interface NunjucksNodes {
  CallExtension: new (extension: object, method: string, args: unknown) => unknown;
  NodeList: new (lineno: number, colno: number, children: unknown[]) => unknown;
}

/**
 * Nunjucks set up for SQL: no autoescape, strict names, Jinja literals, global macros. Compiled
 * templates are cached by content, so a project's repeated templates compile once.
 */
export class TemplateEngine {
  private readonly env: nunjucksTypes.Environment;
  private readonly scopes: RenderScope[] = [];
  private readonly compiled = new Map<string, nunjucksTypes.Template>();
  readonly macroNames: ReadonlySet<string>;

  /** Each package's macros by name (the root project's under its name and under ''). */
  private readonly packageMacros = new Map<string, Map<string, unknown>>();
  private readonly rootPackage: string;
  private readonly dispatchOrder: Readonly<Record<string, readonly string[]>>;
  private readonly adapters = new WeakMap<RenderScope, object>();
  private readonly packageDirs: Readonly<Record<string, string>>;
  private readonly packageNames = new Map<string, Record<string, unknown>>();

  /**
   * Throws TemplateLocatedError for a macro file that does not compile. Macros resolve as dbt's
   * do: the root project's are global names and override the built-in dbt ones; a package's are
   * reached as `package.name`, and inside that package's own files by their bare names too.
   */
  constructor(macroFiles: readonly MacroFile[], options: MacroNamespaceOptions = {}) {
    installStrictCompiler();
    // dev: keep our located errors as thrown instead of re-wrapping them in a plain Error.
    this.env = new (nunjucks().Environment)([], { autoescape: false, throwOnUndefined: true, dev: true } as nunjucksTypes.ConfigureOptions);
    installJinjaCompat(this.env);
    this.rootPackage = options.rootPackage ?? '';
    this.dispatchOrder = options.dispatch ?? {};
    this.packageDirs = options.packageDirs ?? {};
    // `return` is the engine's own, the same in every scope; `adapter` adds dispatch to the scope's.
    // `log` and `exceptions` are the engine's (jinja-compat.ts), the same in every render.
    const engineGlobals: ReadonlySet<string> = new Set(ENGINE_GLOBALS);
    for (const name of CONTEXT_NAMES) if (name !== 'return' && name !== 'adapter' && !engineGlobals.has(name)) this.defineScopedGlobal(name);
    for (const name of ON_RUN_END_NAMES) this.defineScopedGlobal(name);
    this.env.addGlobal('return', (value: unknown) => {
      throw new MacroReturn(value);
    });
    this.defineAdapterGlobal();
    this.env.addExtension('do', new DoTag());

    const noScope: RenderScope = { functions: {}, values: {} };
    const contexts: Array<{ pkg: string; ctx: Record<string, unknown> }> = [];
    for (const file of macroFiles) {
      const pkg = file.package ?? this.rootPackage;
      if (file.deferred) {
        this.deferMacroFile(file, pkg, noScope);
        continue;
      }
      let context: { ctx: Record<string, unknown> };
      try {
        const template = this.compile(file.path, file.text);
        context = this.withScope(noScope, () => loadMacroFile(this.env, template));
      } catch (error) {
        if (options.onBrokenFile === undefined) throw error;
        options.onBrokenFile(file, locateError(error, file.path, 'template error') as TemplateLocatedError);
        continue;
      }
      contexts.push({ pkg, ctx: context.ctx });
      const own = this.packageMacros.get(pkg) ?? this.packageMacros.set(pkg, new Map()).get(pkg)!;
      // Every top-level macro, `_private` ones included: Nunjucks exports no name starting with `_`, but dbt's packages call them (`dbt_utils._is_relation`).
      for (const [name, value] of Object.entries(context.ctx)) if (typeof value === 'function') own.set(name, value);
    }
    const root = this.packageMacros.get(this.rootPackage) ?? new Map<string, unknown>();
    const internal = this.packageMacros.get(INTERNAL_PACKAGE) ?? new Map<string, unknown>();
    // Global names, lowest precedence first: dbt's built-ins, package namespaces, the root project's macros.
    for (const [name, fn] of internal) this.env.addGlobal(name, fn);
    for (const pkg of this.packageMacros.keys()) {
      if (pkg !== '') this.env.addGlobal(pkg, namespaceObject(pkg, this.packageMacros.get(pkg)!));
    }
    for (const [name, fn] of root) this.env.addGlobal(name, fn);
    // Inside a package's files its own macros come before the built-ins; the root project's still win.
    for (const { pkg, ctx } of contexts) {
      if (pkg === this.rootPackage) continue;
      for (const [name, fn] of this.packageMacros.get(pkg)!) ctx[name] = fn;
      for (const [name, fn] of root) ctx[name] = fn;
    }
    this.macroNames = new Set(root.keys());
  }

  /**
   * `adapter.dispatch(name, namespace)`: the first of `duckdb__name`, `default__name` found in the
   * packages searched — the project's `dispatch:` order for the namespace, else the root project
   * and then the namespace's own package.
   */
  dispatch(macroName: unknown, namespace?: unknown): unknown {
    if (typeof macroName !== 'string' || macroName === '') throw new TemplateUserError(`adapter.dispatch() needs a macro name, got ${JSON.stringify(macroName)}`);
    if (macroName.includes('.')) {
      throw new TemplateUserError(`adapter.dispatch('${macroName}'): give the macro name and its namespace apart, e.g. adapter.dispatch('${macroName.split('.').pop()}', '${macroName.split('.')[0]}')`);
    }
    if (namespace !== undefined && namespace !== null && typeof namespace !== 'string') {
      throw new TemplateUserError(`adapter.dispatch('${macroName}', ...): the namespace must be a package name, got ${JSON.stringify(namespace)}`);
    }
    const ns = namespace ?? undefined;
    const order = ns === undefined ? [this.rootPackage, INTERNAL_PACKAGE] : (this.dispatchOrder[ns] ?? [this.rootPackage, ns]);
    const searched: string[] = [];
    for (const pkg of ns === INTERNAL_PACKAGE && !order.includes(INTERNAL_PACKAGE) ? [...order, INTERNAL_PACKAGE] : order) {
      const macros = this.packageMacros.get(pkg);
      for (const prefix of ADAPTER_PREFIXES) {
        const candidate = `${prefix}__${macroName}`;
        const found = macros?.get(candidate);
        if (found !== undefined) return found;
        searched.push(pkg === this.rootPackage ? candidate : `${pkg}.${candidate}`);
      }
    }
    throw new TemplateUserError(
      `adapter.dispatch: no macro named '${macroName}' in namespace '${ns ?? this.rootPackage}'; searched for ${searched.map((x) => `'${x}'`).join(', ')}`,
      this.dispatchOrder[ns ?? ''] ? undefined : 'define one of them, or list the package that does in dispatch: search_order',
    );
  }

  /** What a file of a package sees beyond the globals: the package's own macros, the root project's still first. */
  private packageNamesFor(path: string): Record<string, unknown> {
    for (const [pkg, dir] of Object.entries(this.packageDirs)) {
      if (dir === '' || !path.startsWith(`${dir}/`)) continue;
      const cached = this.packageNames.get(pkg);
      if (cached) return cached;
      const names: Record<string, unknown> = {};
      for (const [name, fn] of this.packageMacros.get(pkg) ?? []) names[name] = fn;
      for (const [name, fn] of this.packageMacros.get(this.rootPackage) ?? []) names[name] = fn;
      this.packageNames.set(pkg, names);
      return names;
    }
    return {};
  }

  /** A package's macro by name (`test_equality` of `dbt_utils`); the root project's when `pkg` is undefined. */
  hasMacro(name: string, pkg?: string): boolean {
    return this.packageMacros.get(pkg ?? this.rootPackage)?.has(name) ?? false;
  }

  /** Render `text` (the contents of project file `path`) with `scope`; synchronous. */
  render(path: string, text: string, scope: RenderScope): string {
    const template = this.compile(path, text);
    try {
      return this.withScope(scope, () => template.render(this.packageNamesFor(path)));
    } catch (error) {
      if (isStrayReturn(error)) {
        throw new TemplateLocatedError('return() is only meaningful inside a macro: it hands the macro\'s caller a value', path, 1, 1);
      }
      throw locateError(error, path, 'template error');
    }
  }

  /** See `checkTemplateSyntax`. */
  checkSyntax(path: string, text: string, fallback: { line: number; column: number }): void {
    checkTemplateSyntax(path, text, fallback);
  }

  /** Compile without rendering: surfaces syntax errors (with file and line). */
  compile(path: string, text: string): nunjucksTypes.Template {
    const key = `${path}\u0000${createHash('sha1').update(text).digest('base64')}`;
    let template = this.compiled.get(key);
    if (template === undefined) {
      try {
        template = new (nunjucks().Template)(text, this.env, path, true);
      } catch (error) {
        throw locateError(error, path, 'template syntax error');
      }
      this.compiled.set(key, template);
    }
    return template;
  }

  private withScope<T>(scope: RenderScope, fn: () => T): T {
    this.scopes.push(scope);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /**
   * A deferred file's macros, by the names its `{% macro %}` tags declare, as functions that compile
   * and load the file on first call and then call the real macro (with Nunjucks' `this`). Once
   * loaded, the file's own scope is given what an eagerly loaded file of its package gets: the
   * package's other macros, then the root project's.
   */
  private deferMacroFile(file: MacroFile, pkg: string, noScope: RenderScope): void {
    const own = this.packageMacros.get(pkg) ?? this.packageMacros.set(pkg, new Map()).get(pkg)!;
    let exported: Record<string, unknown> | undefined;
    const load = (): Record<string, unknown> => {
      if (exported) return exported;
      const { ctx } = this.withScope(noScope, () => loadMacroFile(this.env, this.compile(file.path, file.text)));
      exported = { ...ctx };
      if (pkg !== this.rootPackage) {
        for (const [name, fn] of own) if (!(name in exported)) ctx[name] = fn;
        for (const [name, fn] of this.packageMacros.get(this.rootPackage) ?? []) ctx[name] = fn;
      }
      return exported;
    };
    for (const [, name] of file.text.matchAll(/\{%-?\s*macro\s+([A-Za-z_][A-Za-z0-9_]*)/g)) {
      own.set(name, function (this: unknown, ...args: unknown[]): unknown {
        return (load()[name] as (...a: unknown[]) => unknown).apply(this, args);
      });
    }
  }

  /** `adapter`: the scope's adapter methods (queries, relations) plus the engine's dispatch. */
  private defineAdapterGlobal(): void {
    const scopes = this.scopes;
    const adapters = this.adapters;
    const dispatch = (name: unknown, namespace?: unknown) => this.dispatch(name, namespace);
    const globals = (this.env as unknown as { globals: object }).globals;
    Object.defineProperty(globals, 'adapter', {
      enumerable: true,
      configurable: true,
      get() {
        const scope = scopes[scopes.length - 1];
        if (scope === undefined) return { dispatch };
        let adapter = adapters.get(scope);
        if (adapter === undefined) {
          adapter = { ...((scope.values.adapter as object | undefined) ?? {}), dispatch };
          adapters.set(scope, adapter);
        }
        return adapter;
      },
    });
  }

  private defineScopedGlobal(name: string): void {
    const scopes = this.scopes;
    const globals = (this.env as unknown as { globals: object }).globals;
    Object.defineProperty(globals, name, {
      enumerable: true,
      configurable: true,
      get() {
        const scope = scopes[scopes.length - 1];
        if (scope === undefined) return undefined;
        return name in scope.functions ? scope.functions[name] : scope.values[name];
      },
    });
  }
}

/**
 * Run a macro file's top level, as Nunjucks' getExported does, but keep its render context: the
 * file's macros look names up there first, so a package's files can be given their package's names.
 */
function loadMacroFile(env: nunjucksTypes.Environment, template: nunjucksTypes.Template): { ctx: Record<string, unknown> } {
  const runtime = requireModule('nunjucks/src/runtime') as { Frame: new () => { topLevel: boolean } };
  const t = template as unknown as {
    compile(): void;
    blocks: unknown;
    rootRenderFunc(env: unknown, context: unknown, frame: unknown, runtime: unknown, cb: (err: unknown) => void): void;
  };
  t.compile();
  const frame = new runtime.Frame();
  frame.topLevel = true;
  const context = new (contextClass(env))({}, t.blocks, env);
  let failure: unknown;
  t.rootRenderFunc(env, context, frame, runtime, (err) => {
    failure = err;
  });
  if (failure) throw failure;
  return { ctx: context.ctx };
}

type NunjucksContext = { ctx: Record<string, unknown> };
let contextConstructor: (new (ctx: object, blocks: unknown, env: unknown) => NunjucksContext) | undefined;

/** Nunjucks does not export its Context class; a function called from a template gets one as `this`. */
function contextClass(env: nunjucksTypes.Environment): new (ctx: object, blocks: unknown, env: unknown) => NunjucksContext {
  if (contextConstructor) return contextConstructor;
  new (nunjucks().Template)('{{ capture() }}', env, 'capture', true).render({
    capture(this: NunjucksContext) {
      contextConstructor = this.constructor as typeof contextConstructor;
      return '';
    },
  });
  return contextConstructor!;
}

/** `dbt_utils.star`: a package's macros as attributes; a name it does not define is an error saying so. */
function namespaceObject(pkg: string, macros: ReadonlyMap<string, unknown>): object {
  return new Proxy(Object.fromEntries(macros), {
    get(obj, key) {
      if (typeof key !== 'string' || key in obj) return Reflect.get(obj, key);
      if (key === 'toJSON' || key === 'then' || key === '__keywords' || key === 'length' || key === 'constructor') return undefined;
      throw new TemplateUserError(`package '${pkg}' has no macro '${key}'`, didYouMean(key, [...macros.keys()]));
    },
  });
}

/** Nunjucks' own errors carry lineno/colno and a decorated message; give them our shape. */
/** Block tags of dbt features smelter does not run, and what to write instead. */
const DBT_FEATURE_TAGS: Readonly<Record<string, string>> = {
  materialization:
    "custom materializations ({% materialization %}) are not supported: smelter's are view, table, ephemeral, incremental and scd2 (with external: true for Parquet)",
};

function locateError(error: unknown, path: string, what: string): Error {
  if (error instanceof TemplateLocatedError) return error;
  const e = error as { message?: string; lineno?: number; colno?: number; cause?: unknown };
  const cause = e.cause as { message?: string } | undefined;
  const raw = cause?.message ?? String(e.message ?? error);
  // Drop nunjucks' decorations: "(path) [Line 2, Column 4]" and the parser function's name.
  const message = raw
    .replace(/^\(.*?\)( \[Line \d+(, Column \d+)?\])?\n\s*/, '')
    .replace(/^parse[A-Za-z]*: /, '')
    .trim();
  // dbt's own block tags name the feature they belong to, not a syntax slip.
  const dbtTag = /^unknown block tag: (\w+)$/.exec(message)?.[1];
  if (dbtTag !== undefined && DBT_FEATURE_TAGS[dbtTag] !== undefined) {
    return new TemplateLocatedError(DBT_FEATURE_TAGS[dbtTag], path, e.lineno || 1, e.colno || 1, { cause: error });
  }
  return new TemplateLocatedError(`${what}: ${message}`, path, e.lineno || 1, e.colno || 1, { cause: error });
}

export { TemplateLocatedError };
