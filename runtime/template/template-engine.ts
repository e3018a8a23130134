import type nunjucksTypes from 'nunjucks';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { installStrictCompiler, TemplateLocatedError } from './strict-compiler.js';
import { isStrayReturn, MacroReturn } from './macro-return.js';
import { installJinjaCompat } from './jinja-compat.js';

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
}

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
] as const;

/**
 * Parse only (no code generation, no engine: a macro file can be checked before the engine that
 * loads it exists): throws a TemplateLocatedError for a syntax error, placed at `fallback` when the
 * parser gives no position, or only the end of the file (an unclosed block).
 */
export function checkTemplateSyntax(path: string, text: string, fallback: { line: number; column: number }): void {
  const parser = requireModule('nunjucks/src/parser') as { parse(src: string, extensions: unknown[], opts: unknown): unknown };
  try {
    parser.parse(text, [], {});
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

  /** Throws TemplateLocatedError for a macro file that does not compile. */
  constructor(macroFiles: readonly MacroFile[]) {
    installStrictCompiler();
    // dev: keep our located errors as thrown instead of re-wrapping them in a plain Error.
    this.env = new (nunjucks().Environment)([], { autoescape: false, throwOnUndefined: true, dev: true } as nunjucksTypes.ConfigureOptions);
    installJinjaCompat(this.env);
    // `return` is the engine's own, the same in every scope.
    for (const name of CONTEXT_NAMES) if (name !== 'return') this.defineScopedGlobal(name);
    this.env.addGlobal('return', (value: unknown) => {
      throw new MacroReturn(value);
    });
    this.env.addExtension('do', new DoTag());

    const names = new Set<string>();
    const noScope: RenderScope = { functions: {}, values: {} };
    for (const file of macroFiles) {
      const template = this.compile(file.path, file.text);
      const exported = this.withScope(noScope, () => getExportedSync(template));
      for (const [name, value] of Object.entries(exported)) {
        if (typeof value !== 'function') continue;
        this.env.addGlobal(name, value);
        names.add(name);
      }
    }
    this.macroNames = names;
  }

  /** Render `text` (the contents of project file `path`) with `scope`; synchronous. */
  render(path: string, text: string, scope: RenderScope): string {
    const template = this.compile(path, text);
    try {
      return this.withScope(scope, () => template.render({}));
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

function getExportedSync(template: nunjucksTypes.Template): Record<string, unknown> {
  let result: Record<string, unknown> | undefined;
  let failure: unknown;
  (template as unknown as { getExported(cb: (err: unknown, exported: Record<string, unknown>) => void): void }).getExported(
    (err, exported) => {
      failure = err;
      result = exported;
    },
  );
  if (failure) throw failure;
  return result ?? {};
}

/** Nunjucks' own errors carry lineno/colno and a decorated message; give them our shape. */
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
  return new TemplateLocatedError(`${what}: ${message}`, path, e.lineno || 1, e.colno || 1, { cause: error });
}

export { TemplateLocatedError };
