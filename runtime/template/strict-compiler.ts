import { MacroReturn, returning } from './macro-return.js';
import { createRequire } from 'node:module';
import { didYouMean } from '../util/did-you-mean.js';
import { pythonFormat } from './printf.js';
import { installJinjaSyntax } from './jinja-syntax.js';
import { installJinjaSemantics } from './jinja-semantics.js';
import { pyMethod } from './py-methods.js';
import { pySlice, pyIndex } from './py-index.js';

/**
 * Nunjucks, made strict for SQL. Nunjucks' own `throwOnUndefined` only checks values that are
 * output, so `{% if is_incremntal() %}` or `ref(modle_name)` would silently render wrong SQL.
 * We change two code generators of its compiler:
 *  - a name lookup throws when the name is defined nowhere (except as the operand of
 *    `is defined` / `is undefined`, and Jinja's literals True/False/None);
 *  - a function call records the template and position, so an error raised by the called
 *    function (or by a macro in another file) names the file and line where it happened;
 *  - `%` with a string on the left is Python's printf-style formatting, as in Jinja (JavaScript's
 *    remainder would render NaN); between numbers it is Python's modulo (its sign is the divisor's);
 *    a parenthesized tuple `(a, b)` is a list rather than JavaScript's comma operator.
 * The patch is applied once per process; it affects only environments created by this module.
 */

const require = createRequire(import.meta.url);
// nunjucks ships no types for its internals; these are the three objects we touch.
/* eslint-disable @typescript-eslint/no-explicit-any */
const compilerModule = require('nunjucks/src/compiler') as { Compiler: any };
const runtime = require('nunjucks/src/runtime') as any;
const nodes = require('nunjucks/src/nodes') as any;

/** An error raised while rendering, with the template and 1-based position where it happened. */
export class TemplateLocatedError extends Error {
  readonly templateFile: string;
  readonly line: number;
  readonly column: number;
  /** Set so nunjucks' handleError keeps this error as is. */
  readonly lineno: number;
  constructor(message: string, templateFile: string, line: number, column: number, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TemplateLocatedError';
    this.templateFile = templateFile;
    this.line = line;
    this.column = column;
    this.lineno = line;
    this.hint = options?.hint;
  }
  readonly hint?: string;
  /** nunjucks calls Update(path) on errors passing out of a template; ours already know their file. */
  Update(): this {
    return this;
  }
}

/** Thrown by context functions (ref, var, ...) for user errors; gets a location on the way out. */
export class TemplateUserError extends Error {
  readonly hint?: string;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'TemplateUserError';
    this.hint = hint;
  }
}

const JINJA_LITERALS: Readonly<Record<string, string>> = { True: 'true', False: 'false', None: 'null' };
const LENIENT_TESTS = new Set(['defined', 'undefined']);

let patched = false;
let callSite = { file: '', line: 0, column: 0 };

/**
 * Where the function being called right now was called from. Context functions (ref, config)
 * read it to record the line of a call found by rendering rather than by the static reader.
 */
export function lastCallSite(): { readonly file: string; readonly line: number; readonly column: number } {
  return callSite;
}

export function installStrictCompiler(): void {
  if (patched) return;
  patched = true;
  // Jinja's Python-style methods ('x'.upper(), d.items()) and slices, as dbt users write them.
  (require('nunjucks') as { installJinjaCompat(): void }).installJinjaCompat();
  const internals = { parser: require('nunjucks/src/parser'), lexer: require('nunjucks/src/lexer'), nodes, compiler: compilerModule, runtime };
  installJinjaSemantics(internals, installJinjaSyntax(internals));
  const proto = compilerModule.Compiler.prototype;

  proto.compileSymbol = function compileSymbol(this: any, node: any, frame: any) {
    const name: string = node.value;
    const local = frame.lookup(name);
    if (local) {
      this._emit(local);
    } else if (this._smelterLenient || this._smelterAssigned?.has(name)) {
      this._emit(`runtime.contextOrFrameLookup(context, frame, ${JSON.stringify(name)})`);
    } else if (name in JINJA_LITERALS) {
      this._emit(
        `runtime.smelterLiteral(context, frame, ${JSON.stringify(name)}, ${JINJA_LITERALS[name]})`,
      );
    } else {
      this._emit(
        `runtime.smelterLookup(context, frame, ${JSON.stringify(name)}, ${node.lineno}, ${node.colno}, ${JSON.stringify(this.templateName ?? '')})`,
      );
    }
  };

  const compileIs = proto.compileIs;
  proto.compileIs = function (this: any, node: any, frame: any) {
    const test = node.right.name ? node.right.name.value : node.right.value;
    const lenient = LENIENT_TESTS.has(test) && node.left instanceof nodes.Symbol;
    const before = this._smelterLenient;
    if (lenient) this._smelterLenient = true;
    try {
      compileIs.call(this, node, frame);
    } finally {
      this._smelterLenient = before;
    }
  };

  proto.compileFunCall = function compileFunCall(this: any, node: any, frame: any) {
    this._emit(`(lineno = ${node.lineno}, colno = ${node.colno}, `);
    this._emit('runtime.smelterCall(');
    this._compileExpression(node.name, frame);
    this._emit(`, ${JSON.stringify(this._getNodeName(node.name))}, context, `);
    this._compileAggregate(node.args, frame, '[', ']');
    // Point at the callee's name rather than at the parenthesis, where nunjucks puts a call.
    const at = node.name?.lineno === undefined ? node : node.name;
    this._emit(`, ${at.lineno}, ${at.colno}, ${JSON.stringify(this.templateName ?? '')}))`);
  };

  proto.compileLookupVal = function compileLookupVal(this: any, node: any, frame: any) {
    if (node.val?.typename === 'Slice') {
      // Jinja's x[a:b:c]: the slice compiles to its three bounds.
      this._emit('runtime.smelterSlice((');
      this._compileExpression(node.target, frame);
      this._emit('),');
      this._compileExpression(node.val, frame);
      this._emit(')');
      return;
    }
    this._emit('runtime.smelterMember((');
    this._compileExpression(node.target, frame);
    this._emit('),');
    this._compileExpression(node.val, frame);
    const at = node.val?.lineno === undefined ? node : node.val;
    this._emit(`, ${at.lineno}, ${at.colno}, ${JSON.stringify(this.templateName ?? '')})`);
  };

  proto.compileFilter = function compileFilter(this: any, node: any, frame: any) {
    const name = node.name;
    this.assertType(name, nodes.Symbol);
    this._emit(
      `runtime.smelterFilter(env, ${JSON.stringify(name.value)}, ${name.lineno}, ${name.colno}, ${JSON.stringify(this.templateName ?? '')}).call(context, `,
    );
    this._compileAggregate(node.args, frame);
    this._emit(')');
  };

  proto.compileMod = function compileMod(this: any, node: any, frame: any) {
    this._emit('runtime.smelterMod((');
    this.compile(node.left, frame);
    this._emit('), (');
    this.compile(node.right, frame);
    this._emit(`), ${node.lineno}, ${node.colno}, ${JSON.stringify(this.templateName ?? '')})`);
  };

  // Python's `(a, b)` is a tuple; Nunjucks compiles it to JavaScript's comma operator (the last
  // value). As a list it is what `"%s-%s" % (a, b)` and a loop over `(1, 2)` expect.
  const compileGroup = proto.compileGroup;
  proto.compileGroup = function (this: any, node: any, frame: any) {
    if (node.children.length > 1) this._compileAggregate(node, frame, '[', ']');
    else compileGroup.call(this, node, frame);
  };

  runtime.smelterMod = (left: unknown, right: unknown, line: number, col: number, file: string) => {
    if (typeof left === 'string' || left instanceof runtime.SafeString) {
      try {
        return pythonFormat(String(left), right);
      } catch (error) {
        throw new TemplateLocatedError((error as Error).message, file, line + 1, col + 1, { cause: error });
      }
    }
    const l = left as number;
    const r = right as number;
    const rest = l % r;
    return rest !== 0 && rest < 0 !== r < 0 ? rest + r : rest;
  };

  runtime.smelterMember = (obj: unknown, key: unknown, line: number, col: number, file: string) => {
    if (typeof key === 'string') {
      const method = pyMethod(obj, key);
      if (method) return method;
    }
    try {
      if (typeof key === 'number') return pyIndex(obj, key);
      // A class-like function (modules.datetime.datetime, with its static now()/strptime()) is
      // handed as itself: nunjucks would wrap it to bind `this` and lose its attributes.
      const value = obj === null || obj === undefined ? undefined : (obj as Record<string, unknown>)[key as string];
      if (typeof value === 'function' && Object.keys(value).length > 0) return value;
      return runtime.memberLookup(obj, key);
    } catch (error) {
      throw locate(error, `.${String(key)}`, line, col, file);
    }
  };

  runtime.smelterSlice = (obj: unknown, start: unknown, stop: unknown, step: unknown) => pySlice(obj, start, stop, step);

  runtime.smelterFilter = (env: any, name: string, line: number, col: number, file: string) => {
    const filter = env.filters[name];
    if (filter) return filter;
    throw new TemplateLocatedError(`unknown filter '${name}'`, file, line + 1, col + 1, { hint: didYouMean(name, Object.keys(env.filters)) });
  };

  runtime.smelterLiteral = (context: any, frame: any, name: string, literal: unknown) => {
    const value = runtime.contextOrFrameLookup(context, frame, name);
    return value === undefined ? literal : value;
  };

  runtime.smelterLookup = (context: any, frame: any, name: string, line: number, col: number, file: string) => {
    const value = runtime.contextOrFrameLookup(context, frame, name);
    if (value !== undefined) return value;
    throw new TemplateLocatedError(`'${name}' is undefined`, file, line + 1, col + 1, {
      hint: didYouMean(name, visibleNames(context, frame)),
    });
  };

  // Every macro (in a macro file or local to a template) answers dbt's `return(value)` with the value.
  const makeMacro = runtime.makeMacro;
  runtime.makeMacro = (argNames: unknown, kwargNames: unknown, func: (...args: unknown[]) => unknown) => makeMacro(argNames, kwargNames, returning(func));

  runtime.smelterCall = (fn: any, name: string, context: any, args: unknown[], line: number, col: number, file: string) => {
    callSite = { file, line: line + 1, column: col + 1 };
    try {
      return runtime.callWrap(fn, name, context, args);
    } catch (error) {
      // A macro's `return(value)` on its way to the macro's wrapper: not an error.
      if (error instanceof MacroReturn) throw error;
      throw locate(error, `${name}()`, line, col, file);
    }
  };
}

/** An error thrown at a known place becomes a TemplateLocatedError there (unless it already is one). */
function locate(error: unknown, what: string, line: number, col: number, file: string): TemplateLocatedError {
  if (error instanceof TemplateLocatedError) return error;
  const e = error as Error & { hint?: string };
  const message = error instanceof TemplateUserError ? e.message : `${what}: ${e?.message ?? String(error)}`;
  return new TemplateLocatedError(message, file, line + 1, col + 1, { cause: error, hint: e?.hint });
}

function visibleNames(context: any, frame: any): string[] {
  const names = new Set<string>();
  for (let f = frame; f; f = f.parent) for (const k of Object.keys(f.variables ?? {})) names.add(k);
  for (const k of Object.keys(context?.ctx ?? {})) names.add(k);
  for (const k of Object.keys(context?.env?.globals ?? {})) names.add(k);
  for (const builtin of ['range', 'cycler', 'joiner', 'loop']) names.delete(builtin);
  return [...names];
}
