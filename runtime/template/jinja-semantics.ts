import { TemplateLocatedError, TemplateUserError } from './strict-compiler.js';
import type { JinjaNodes, NunjucksInternals } from './jinja-syntax.js';
import { iterate } from './py-methods.js';
import { isMapping, mappingKeys, pyEquals, pyStr, pyTruthy } from './py-values.js';
import { returning } from './macro-return.js';

/**
 * Jinja's meaning of expressions and statements where Nunjucks compiles to JavaScript's:
 *  - output and `~` print with Python's str() (`None`, `True`, `['a']`); undefined prints nothing;
 *  - `if`, `and`, `or`, `not` and inline ifs use Python's truth (an empty list is false);
 *  - `==` compares lists and dicts by content; `+` joins lists; `*` repeats strings and lists;
 *  - a `for` loop over a dict visits its keys;
 *  - a macro binds arguments as Jinja does: a missing argument is undefined, an unknown keyword
 *    argument is an error naming the macro unless its body reads `kwargs`, extra positional ones
 *    land in `varargs` (an error unless its body reads it);
 *  - the nodes jinja-syntax.ts adds (spreads, computed dict keys, filtered loops, unpacking `set`,
 *    namespace attributes, break/continue).
 * Patched once per process, on Nunjucks' compiler and runtime modules.
 */

/* eslint-disable @typescript-eslint/no-explicit-any */
let runtime: any;
let nodes: any;
let installed = false;

export function installJinjaSemantics(internals: NunjucksInternals, added: JinjaNodes): void {
  if (installed) return;
  installed = true;
  runtime = internals.runtime;
  nodes = internals.nodes;
  const { StarArg, LoopFilter } = added;
  // Wraps a `for` loop's iterable so that it is walked as Python would.
  const LoopIterable = nodes.Node.extend('LoopIterable', { fields: ['arr', 'multi'] });
  const proto = internals.compiler.Compiler.prototype;
  installRuntime();

  const assertType = proto.assertType;
  proto.assertType = function (this: any, node: any, ...types: any[]) {
    if (node instanceof LoopIterable || node instanceof LoopFilter || node instanceof StarArg || node?.typename === 'Slice') return;
    return assertType.call(this, node, ...types);
  };

  const compileRoot = proto.compileRoot;
  proto.compileRoot = function (this: any, node: any, frame: any) {
    this._smelterAssigned = assignedNames(node);
    return compileRoot.call(this, node, frame);
  };

  proto.compileOutput = function (this: any, node: any, frame: any) {
    for (const child of node.children) {
      if (child instanceof nodes.TemplateData) {
        if (child.value) {
          this._emit(`${this.buffer} += `);
          this.compileLiteral(child, frame);
          this._emitLine(';');
        }
      } else {
        this._emit(`${this.buffer} += runtime.smelterOutput(`);
        this.compile(child, frame);
        this._emitLine(');');
      }
    }
  };

  proto.compileIf = function (this: any, node: any, frame: any) {
    this._emit('if(runtime.smelterTruthy(');
    this._compileExpression(node.cond, frame);
    this._emitLine(')) {');
    this._withScopedSyntax(() => this.compile(node.body, frame));
    if (node.else_) {
      this._emitLine('}\nelse {');
      this._withScopedSyntax(() => this.compile(node.else_, frame));
    }
    this._emitLine('}');
  };

  proto.compileInlineIf = function (this: any, node: any, frame: any) {
    this._emit('(runtime.smelterTruthy(');
    this.compile(node.cond, frame);
    this._emit(') ? (');
    this.compile(node.body, frame);
    this._emit(') : (');
    if (node.else_ !== null) this.compile(node.else_, frame);
    else this._emit('undefined');
    this._emit('))');
  };

  const lazyBinary = (helper: string) =>
    function (this: any, node: any, frame: any) {
      this._emit(`runtime.${helper}(`);
      this.compile(node.left, frame);
      this._emit(', function() { return ');
      this.compile(node.right, frame);
      this._emit('; })');
    };
  proto.compileOr = lazyBinary('smelterOr');
  proto.compileAnd = lazyBinary('smelterAnd');

  proto.compileNot = function (this: any, node: any, frame: any) {
    this._emit('!runtime.smelterTruthy(');
    this.compile(node.target, frame);
    this._emit(')');
  };

  const binary = (helper: string) =>
    function (this: any, node: any, frame: any) {
      this._emit(`runtime.${helper}(`);
      this.compile(node.left, frame);
      this._emit(', ');
      this.compile(node.right, frame);
      this._emit(')');
    };
  proto.compileConcat = binary('smelterConcat');
  proto.compileAdd = binary('smelterAdd');
  proto.compileSub = binary('smelterSub');
  proto.compileMul = binary('smelterMul');
  proto.compileIn = binary('smelterIn');

  proto.compileCompare = function (this: any, node: any, frame: any) {
    // Python chains comparisons: a < b < c is a < b and b < c.
    this._emit('runtime.smelterCompare(');
    this.compile(node.expr, frame);
    for (const op of node.ops) {
      this._emit(`, ${JSON.stringify(op.type)}, `);
      this.compile(op.expr, frame);
    }
    this._emit(')');
  };

  const compilePair = proto.compilePair;
  proto.compilePair = function (this: any, node: any, frame: any) {
    if (node.spread) {
      this._emit('...runtime.smelterKwargs(');
      this.compile(node.value, frame);
      this._emit(')');
      return;
    }
    if (node.computedKey && !(node.key instanceof nodes.Literal && typeof node.key.value === 'string')) {
      this._emit('[runtime.smelterKey(');
      this.compile(node.key, frame);
      this._emit(')]: ');
      this._compileExpression(node.value, frame);
      return;
    }
    compilePair.call(this, node, frame);
  };

  proto.compileStarArg = function (this: any, node: any, frame: any) {
    this._emit('...runtime.smelterIterate(');
    this.compile(node.value, frame);
    this._emit(')');
  };

  proto.compileLoopControl = function (this: any, node: any) {
    this._emitLine(`${node.keyword};`);
  };

  const compileFor = proto.compileFor;
  proto.compileFor = function (this: any, node: any, frame: any) {
    const multi = node.name instanceof nodes.Array;
    const arr = node.arr;
    node.arr = new LoopIterable(arr.lineno, arr.colno, arr, multi);
    try {
      return compileFor.call(this, node, frame);
    } finally {
      node.arr = arr;
    }
  };

  proto.compileLoopIterable = function (this: any, node: any, frame: any) {
    this._emit('runtime.smelterLoopItems(');
    this.compile(node.arr, frame);
    this._emit(`, ${node.multi ? 'true' : 'false'})`);
  };

  proto.compileLoopFilter = function (this: any, node: any, frame: any) {
    const names: string[] = node.name instanceof nodes.Array ? node.name.children.map((c: any) => c.value) : [node.name.value];
    this._emit('runtime.smelterFilterItems(runtime.smelterLoopItems(');
    this.compile(node.arr, frame);
    this._emit(`, ${names.length > 1 ? 'true' : 'false'}), function(item) { frame = frame.push(); `);
    names.forEach((name, i) => this._emit(`frame.set(${JSON.stringify(name)}, ${names.length > 1 ? `item[${i}]` : 'item'}); `));
    this._emit('try { return runtime.smelterTruthy(');
    this.compile(node.cond, frame);
    this._emit('); } finally { frame = frame.pop(); } })');
  };

  proto.compileSet = function (this: any, node: any, frame: any) {
    const [first] = node.targets;
    if (first instanceof nodes.LookupVal) {
      // `{% set ns.attr = value %}`: Jinja allows it on a namespace() only.
      this._emit('runtime.smelterSetAttribute(');
      this.compile(first.target, frame);
      this._emit(', ');
      this.compile(first.val, frame);
      this._emit(', ');
      if (node.value) this._compileExpression(node.value, frame);
      else this.compile(node.body, frame);
      this._emitLine(`, ${first.lineno}, ${first.colno}, ${JSON.stringify(this.templateName ?? '')});`);
      return;
    }
    const ids: string[] = node.targets.map((target: any) => {
      this.assertType(target, nodes.Symbol);
      let id = frame.lookup(target.value);
      if (id === null || id === undefined) {
        id = this._tmpid();
        this._emitLine(`var ${id};`);
      }
      return id;
    });
    if (node.value && ids.length > 1) {
      const tuple = this._tmpid();
      this._emit(`var ${tuple} = runtime.smelterUnpack(`);
      this._compileExpression(node.value, frame);
      this._emitLine(`, ${ids.length});`);
      ids.forEach((id, i) => this._emitLine(`${id} = ${tuple}[${i}];`));
    } else {
      this._emit(`${ids.join(' = ')} = `);
      if (node.value) this._compileExpression(node.value, frame);
      else this.compile(node.body, frame);
      this._emitLine(';');
    }
    node.targets.forEach((target: any, i: number) => {
      const id = ids[i];
      const name = JSON.stringify(target.value);
      this._emitLine(`frame.set(${name}, ${id}, true);`);
      this._emitLine(`if(frame.topLevel) { context.setVariable(${name}, ${id}); }`);
      if (target.value.charAt(0) !== '_') this._emitLine(`if(frame.topLevel) { context.addExport(${name}, ${id}); }`);
    });
  };

  proto._compileMacro = function (this: any, node: any, frame: any) {
    const required: any[] = [];
    let optional: any = null;
    node.args.children.forEach((arg: any, i: number) => {
      if (i === node.args.children.length - 1 && arg instanceof nodes.Dict) optional = arg;
      else {
        this.assertType(arg, nodes.Symbol);
        required.push(arg);
      }
    });
    const params: string[] = [...required.map((a) => a.value), ...(optional?.children ?? []).map((p: any) => p.key.value)];
    const used = symbolNames(node.body);
    const funcId = `macro_${this._tmpid()}`;
    const keepFrame = frame !== undefined;
    const macroFrame = keepFrame ? frame.push(true) : new runtime.Frame();
    const name = node.name?.value ?? 'caller';
    this._emitLines(
      `var ${funcId} = runtime.smelterMacro(${JSON.stringify(name)}, ${JSON.stringify(params)}, ${used.has('varargs')}, ${used.has('kwargs')}, function (l_bound) {`,
      'var callerFrame = frame;',
      `frame = ${keepFrame ? 'frame.push(true);' : 'new runtime.Frame();'}`,
    );
    params.forEach((param, i) => {
      const id = `l_${param}`;
      if (i < required.length) {
        this._emitLine(`var ${id} = l_bound.values[${i}];`);
      } else {
        this._emit(`var ${id} = l_bound.values[${i}] !== undefined ? l_bound.values[${i}] : `);
        this._compileExpression(optional.children[i - required.length].value, macroFrame);
        this._emitLine(';');
      }
      this._emitLine(`frame.set(${JSON.stringify(param)}, ${id});`);
      macroFrame.set(param, id);
    });
    for (const special of ['varargs', 'kwargs', 'caller']) {
      if (params.includes(special)) continue;
      this._emitLine(`var l_${special} = l_bound.${special};`);
      this._emitLine(`if (l_${special} !== undefined) frame.set(${JSON.stringify(special)}, l_${special});`);
      if (special !== 'caller') macroFrame.set(special, `l_${special}`);
    }
    const bufferId = this._pushBuffer();
    this._withScopedSyntax(() => this.compile(node.body, macroFrame));
    this._emitLine(`frame = ${keepFrame ? 'frame.pop();' : 'callerFrame;'}`);
    this._emitLine(`return new runtime.SafeString(${bufferId});`);
    this._emitLine('});');
    this._popBuffer();
    return funcId;
  };
}

/** The runtime helpers the generated code calls. */
function installRuntime(): void {
  runtime.smelterOutput = (v: unknown) => (v === undefined ? '' : pyStr(v));
  runtime.smelterTruthy = pyTruthy;
  runtime.smelterOr = (a: unknown, b: () => unknown) => (pyTruthy(a) ? a : b());
  runtime.smelterAnd = (a: unknown, b: () => unknown) => (pyTruthy(a) ? b() : a);
  runtime.smelterConcat = (a: unknown, b: unknown) => (a === undefined ? '' : pyStr(a)) + (b === undefined ? '' : pyStr(b));
  runtime.smelterSub = (a: unknown, b: unknown) => {
    const sub = (a as { __sub__?: (o: unknown) => unknown } | null)?.__sub__;
    if (typeof sub === 'function') return sub.call(a, b);
    return (a as number) - (b as number);
  };
  runtime.smelterAdd = (a: unknown, b: unknown) => {
    const add = (a as { __add__?: (o: unknown) => unknown } | null)?.__add__;
    if (typeof add === 'function') return add.call(a, b);
    if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
    if (a instanceof String || b instanceof String) return String(a) + String(b);
    if ((typeof a === 'string') !== (typeof b === 'string') && (typeof a === 'number' || typeof b === 'number')) {
      throw new TemplateUserError(`unsupported operand types for +: a ${typeName(a)} and a ${typeName(b)} (use ~ to join text)`);
    }
    return (a as number) + (b as number);
  };
  runtime.smelterMul = (a: unknown, b: unknown) => {
    if ((typeof a === 'string' || Array.isArray(a)) && typeof b === 'number') return repeat(a, b);
    if ((typeof b === 'string' || Array.isArray(b)) && typeof a === 'number') return repeat(b, a);
    return (a as number) * (b as number);
  };
  runtime.smelterIn = (item: unknown, container: unknown) => {
    if (item instanceof String) item = String(item);
    if (typeof container === 'string' || container instanceof String) return String(container).includes(pyStr(item));
    if (Array.isArray(container)) return container.some((x) => pyEquals(x, item));
    if (container !== null && typeof container === 'object') return String(item) in container;
    throw new TemplateUserError(`argument of type '${typeName(container)}' is not iterable (the right side of 'in')`);
  };
  runtime.smelterCompare = (first: unknown, ...rest: unknown[]) => {
    let left = first;
    for (let i = 0; i < rest.length; i += 2) {
      const op = rest[i] as string;
      const right = rest[i + 1];
      if (!compare(left, op, right)) return false;
      left = right;
    }
    return true;
  };
  runtime.smelterKey = (key: unknown) => (typeof key === 'string' ? key : pyStr(key));
  runtime.smelterKwargs = (v: unknown) => {
    if (v === undefined || v === null) return {};
    if (!isMapping(v)) throw new TemplateUserError(`argument after ** must be a mapping, not ${typeName(v)}`);
    return Object.fromEntries(mappingKeys(v).map((k) => [k, v[k]]));
  };
  runtime.smelterIterate = (v: unknown) => {
    try {
      return iterate(v);
    } catch (error) {
      throw new TemplateUserError(`argument after * must be iterable: ${(error as Error).message}`);
    }
  };
  runtime.smelterLoopItems = (v: unknown, multi: boolean) => {
    if (v === undefined || v === null) return v;
    if (multi && isMapping(v)) return v; // Nunjucks' key/value walk of an object
    return iterate(v);
  };
  runtime.smelterFilterItems = (items: unknown, keep: (item: unknown) => boolean) => {
    if (items === undefined || items === null) return items;
    if (Array.isArray(items)) return items.filter((x) => keep(x));
    return mappingKeys(items as object).map((k) => [k, (items as Record<string, unknown>)[k]]).filter((x) => keep(x));
  };
  runtime.smelterUnpack = (v: unknown, n: number) => {
    const items = iterate(v);
    if (items.length !== n) {
      throw new TemplateUserError(items.length > n ? `too many values to unpack (expected ${n})` : `not enough values to unpack (expected ${n}, got ${items.length})`);
    }
    return items;
  };
  runtime.smelterSetAttribute = (target: unknown, key: unknown, value: unknown, line: number, col: number, file: string) => {
    if (!isNamespace(target)) {
      throw new TemplateLocatedError(`cannot assign attribute '${String(key)}' on a ${typeName(target)}: {% set x.attr = ... %} works on a namespace() only`, file, line + 1, col + 1);
    }
    (target as Record<string, unknown>)[String(key)] = value;
  };
  runtime.smelterMacro = (name: string, params: string[], acceptsVarargs: boolean, acceptsKwargs: boolean, body: (bound: object) => unknown) =>
    returning(function (this: unknown, ...args: unknown[]) {
      return body.call(this, bindArguments(name, params, acceptsVarargs, acceptsKwargs, args));
    });
}

const NAMESPACE = Symbol.for('smelter.namespace');

/** Jinja's `namespace(...)`: a mapping whose attributes a `set` may assign. */
export function makeNamespace(initial: Record<string, unknown>): Record<string, unknown> {
  const ns: Record<string, unknown> = {};
  Object.defineProperty(ns, NAMESPACE, { value: true });
  Object.assign(ns, initial);
  return ns;
}

function isNamespace(v: unknown): boolean {
  return v !== null && typeof v === 'object' && (v as Record<symbol, unknown>)[NAMESPACE] === true;
}

/** Jinja's binding of a call's arguments to a macro's parameters. */
function bindArguments(name: string, params: string[], acceptsVarargs: boolean, acceptsKwargs: boolean, args: unknown[]) {
  const last = args[args.length - 1] as Record<string, unknown> | undefined;
  const hasKeywords = last !== null && typeof last === 'object' && Object.hasOwn(last, '__keywords');
  const positional = hasKeywords ? args.slice(0, -1) : args;
  const values: unknown[] = params.map((_, i) => positional[i]);
  const varargs = positional.slice(params.length);
  if (varargs.length > 0 && !acceptsVarargs) {
    throw new TemplateUserError(`macro '${name}' takes not more than ${params.length} argument(s), got ${positional.length}`);
  }
  const kwargs: Record<string, unknown> = {};
  let caller: unknown;
  if (hasKeywords) {
    for (const key of Object.keys(last!)) {
      if (key === '__keywords') continue;
      const at = params.indexOf(key);
      if (key === 'caller' && at < 0) {
        caller = last![key];
      } else if (at >= 0) {
        if (at < positional.length) throw new TemplateUserError(`macro '${name}' got multiple values for argument '${key}'`);
        values[at] = last![key];
      } else if (acceptsKwargs) {
        kwargs[key] = last![key];
      } else {
        throw new TemplateUserError(`macro '${name}' takes no keyword argument '${key}'`, params.length ? `its arguments are ${params.join(', ')}` : undefined);
      }
    }
  }
  return { values, varargs, kwargs, caller };
}

function compare(a: unknown, op: string, b: unknown): boolean {
  switch (op) {
    case '==':
    case '===':
      return pyEquals(a, b);
    case '!=':
    case '!==':
      return !pyEquals(a, b);
    default: {
      const x = a instanceof String ? String(a) : a;
      const y = b instanceof String ? String(b) : b;
      if (Array.isArray(x) && Array.isArray(y)) {
        const c = x.findIndex((v, i) => i >= y.length || !pyEquals(v, y[i]));
        const [l, r] = c < 0 ? [x.length, y.length] : c >= y.length ? [1, 0] : [x[c], y[c]];
        return compare(l, op, r);
      }
      switch (op) {
        case '<':
          return (x as number) < (y as number);
        case '>':
          return (x as number) > (y as number);
        case '<=':
          return (x as number) <= (y as number);
        default:
          return (x as number) >= (y as number);
      }
    }
  }
}

function repeat(v: string | unknown[], n: number): string | unknown[] {
  if (typeof v === 'string') return n > 0 ? v.repeat(n) : '';
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) out.push(...v);
  return out;
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'boolean') return 'bool';
  return isMapping(v) ? 'dict' : typeof v;
}

/** Every name a template assigns somewhere (set, for, macro, import): reading one before it is set renders empty, as in Jinja. */
function assignedNames(root: any): Set<string> {
  const names = new Set<string>();
  const add = (target: any) => {
    if (target instanceof nodes.Symbol) names.add(target.value);
    else if (target instanceof nodes.Array) for (const c of target.children) add(c);
  };
  for (const set of root.findAll(nodes.Set)) for (const t of set.targets) add(t);
  for (const loop of root.findAll(nodes.For)) add(loop.name);
  for (const macro of root.findAll(nodes.Macro)) {
    add(macro.name);
    for (const arg of macro.args.children) {
      if (arg instanceof nodes.Dict) for (const pair of arg.children) add(pair.key);
      else add(arg);
    }
  }
  for (const imp of root.findAll(nodes.FromImport)) for (const n of imp.names.children) add(n instanceof nodes.Pair ? n.value : n);
  for (const imp of root.findAll(nodes.Import)) add(imp.target);
  return names;
}

/** The names a macro body reads: it takes varargs/kwargs only when it uses them, as in Jinja. */
function symbolNames(body: any): Set<string> {
  return new Set(body.findAll(nodes.Symbol).map((s: any) => s.value));
}
