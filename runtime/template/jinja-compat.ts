import type nunjucksTypes from 'nunjucks';
import { createHash } from 'node:crypto';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { TemplateUserError } from './strict-compiler.js';
import { makeNamespace } from './jinja-semantics.js';
import { iterate, pyCompare } from './py-methods.js';
import { PY_MODULES } from './py-modules.js';
import { pyIndex } from './py-index.js';
import { pythonFormat } from './printf.js';
import { isMapping, markSet, mappingKeys, pyEquals, pyStr } from './py-values.js';

/** Names the engine provides the same in every render (a scope cannot override them). */
export const ENGINE_GLOBALS = ['exceptions', 'log', 'print', 'modules', 'namespace', 'zip', 'set', 'tojson', 'fromjson', 'toyaml', 'fromyaml', 'local_md5', 'dict'] as const;

/** Where `log`, `print` and `exceptions.warn` write: stderr, never into the SQL. */
let warnSink: (line: string) => void = (line) => process.stderr.write(`${line}\n`);

/** Redirect the engine's log output (tests). Returns the previous sink. */
export function setLogSink(sink: (line: string) => void): (line: string) => void {
  const previous = warnSink;
  warnSink = sink;
  return previous;
}

function keywords(args: unknown[]): { positional: unknown[]; kw: Record<string, unknown> } {
  const last = args[args.length - 1] as Record<string, unknown> | undefined;
  if (last !== null && typeof last === 'object' && Object.hasOwn(last, '__keywords')) {
    const { __keywords: _, ...kw } = last;
    return { positional: args.slice(0, -1), kw };
  }
  return { positional: args, kw: {} };
}

/** Python's json.dumps: `{"a": 1, "b": [1, 2]}` with its spacing. */
export function pyJson(value: unknown, sortKeys = false, indent?: number): string {
  const normal = (v: unknown): unknown => {
    if (v === undefined) return null;
    if (v instanceof String) return String(v);
    if (Array.isArray(v)) return v.map(normal);
    if (v !== null && typeof v === 'object') {
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return (v as { toJSON(): unknown }).toJSON();
      if (!isMapping(v)) return String(v);
      const keys = mappingKeys(v);
      if (sortKeys) keys.sort();
      return Object.fromEntries(keys.map((k) => [k, normal(v[k])]));
    }
    return v;
  };
  const normalized = normal(value);
  if (indent !== undefined) return JSON.stringify(normalized, null, indent);
  const write = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(write).join(', ')}]`;
    if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${write(x)}`).join(', ')}}`;
    return JSON.stringify(v) ?? 'null';
  };
  return write(normalized);
}

/**
 * The parts of dbt's Jinja that are the same in every render: filters, tests and globals that do
 * not depend on the model being rendered (those are the scope's, see render/context.ts).
 */
export function installJinjaCompat(env: nunjucksTypes.Environment): void {
  const addTest = (name: string, fn: (v: unknown, ...args: any[]) => boolean) =>
    (env as unknown as { addTest(name: string, fn: (v: unknown, ...args: any[]) => boolean): void }).addTest(name, fn);
  addTest('none', (v) => v === null);
  addTest('boolean', (v) => typeof v === 'boolean');
  addTest('true', (v) => v === true);
  addTest('false', (v) => v === false);
  addTest('integer', (v) => typeof v === 'number' && Number.isInteger(v));
  addTest('float', (v) => typeof v === 'number' && !Number.isInteger(v));
  addTest('number', (v) => typeof v === 'number');
  addTest('string', (v) => typeof v === 'string' || v instanceof String);
  addTest('mapping', (v) => isMapping(v));
  addTest('sequence', (v) => Array.isArray(v) || typeof v === 'string' || v instanceof String || isMapping(v));
  addTest('iterable', (v) => Array.isArray(v) || typeof v === 'string' || v instanceof String || isMapping(v) || (v !== null && typeof v === 'object' && Symbol.iterator in v));
  addTest('in', (v, container) => (Array.isArray(container) ? container.some((x) => pyEquals(x, v)) : typeof container === 'string' ? container.includes(String(v)) : isMapping(container) && String(v) in container));
  addTest('eq', (v, other) => pyEquals(v, other));
  addTest('equalto', (v, other) => pyEquals(v, other));
  addTest('sameas', (v, other) => v === other);
  addTest('lower', (v) => typeof v === 'string' && v === v.toLowerCase());
  addTest('upper', (v) => typeof v === 'string' && v === v.toUpperCase());

  env.addFilter('as_bool', (v: unknown) => v === true || v === 'true' || v === 'True');
  env.addFilter('as_number', (v: unknown) => Number(v));
  env.addFilter('as_text', (v: unknown) => (v === null || v === undefined ? '' : pyStr(v)));
  env.addFilter('as_native', (v: unknown) => v);
  env.addFilter('tojson', (v: unknown, ...args: unknown[]) => {
    const { positional, kw } = keywords(args);
    return pyJson(v, Boolean(kw.sort_keys), (kw.indent ?? positional[0]) as number | undefined);
  });
  env.addFilter('string', (v: unknown) => (v === undefined ? '' : pyStr(v)));
  env.addFilter('unique', (v: unknown) => {
    const out: unknown[] = [];
    for (const x of iterate(v)) if (!out.some((y) => pyEquals(x, y))) out.push(x);
    return out;
  });
  env.addFilter('map', (v: unknown, ...args: unknown[]) => {
    const { positional, kw } = keywords(args);
    const items = iterate(v);
    // attribute= names a key, a dotted path, or an index (`map(attribute=0)` on rows).
    if (typeof kw.attribute === 'number') return items.map((x) => pyIndex(x, kw.attribute as number) ?? kw.default);
    if (typeof kw.attribute === 'string') return items.map((x) => attribute(x, kw.attribute as string) ?? kw.default);
    const name = positional[0];
    if (typeof name !== 'string') throw new TemplateUserError('map() needs a filter name or attribute=');
    const filter = (env as unknown as { filters: Record<string, (...a: unknown[]) => unknown> }).filters[name];
    if (!filter) throw new TemplateUserError(`map(): unknown filter '${name}'`);
    return items.map((x) => filter(x, ...positional.slice(1)));
  });
  env.addFilter('min', (v: unknown) => iterate(v).reduce((a, b) => (pyCompare(a, b) <= 0 ? a : b)));
  env.addFilter('max', (v: unknown) => iterate(v).reduce((a, b) => (pyCompare(a, b) >= 0 ? a : b)));
  env.addFilter('items', (v: unknown) => (isMapping(v) ? mappingKeys(v).map((k) => [k, v[k]]) : []));
  env.addFilter('count', (v: unknown) => (isMapping(v) ? mappingKeys(v).length : iterate(v).length));
  env.addFilter('bool', (v: unknown) => v === true || v === 'true' || v === 'True' || v === 1);
  env.addFilter('fromjson', (v: unknown) => JSON.parse(String(v)));
  env.addFilter('fromyaml', (v: unknown) => parseYaml(String(v)));
  env.addFilter('toyaml', (v: unknown) => stringifyYaml(v));
  env.addFilter('format', (v: unknown, ...args: unknown[]) => {
    const { positional, kw } = keywords(args);
    return pythonFormat(String(v), Object.keys(kw).length ? kw : positional);
  });

  const globals: Record<string, unknown> = {
    exceptions: {
      raise_compiler_error: (message: unknown) => {
        throw new TemplateUserError(pyStr(message));
      },
      warn: (message: unknown) => {
        warnSink(`warning: ${pyStr(message)}`);
        return '';
      },
      raise_not_implemented: (message: unknown) => {
        throw new TemplateUserError(`not implemented: ${pyStr(message)}`);
      },
    },
    log: (message: unknown, ...rest: unknown[]) => {
      void rest;
      warnSink(pyStr(message));
      return '';
    },
    print: (message: unknown) => {
      warnSink(pyStr(message));
      return '';
    },
    modules: PY_MODULES,
    namespace: (...args: unknown[]) => {
      const { positional, kw } = keywords(args);
      const initial: Record<string, unknown> = {};
      for (const p of positional) if (isMapping(p)) Object.assign(initial, p);
      return makeNamespace({ ...initial, ...kw });
    },
    dict: (...args: unknown[]) => {
      const { positional, kw } = keywords(args);
      const out: Record<string, unknown> = {};
      for (const p of positional) {
        if (isMapping(p)) for (const k of mappingKeys(p)) out[k] = p[k];
        else for (const [k, x] of iterate(p) as [string, unknown][]) out[k] = x;
      }
      return Object.assign(out, kw);
    },
    zip: (...lists: unknown[]) => {
      const items = lists.map(iterate);
      const n = items.length ? Math.min(...items.map((l) => l.length)) : 0;
      return Array.from({ length: n }, (_, i) => items.map((l) => l[i]));
    },
    set: (v: unknown) => {
      const out: unknown[] = [];
      for (const x of iterate(v)) if (!out.some((y) => pyEquals(x, y))) out.push(x);
      return markSet(out);
    },
    tojson: (v: unknown, ...args: unknown[]) => {
      const { kw } = keywords(args);
      return pyJson(v, Boolean(kw.sort_keys));
    },
    fromjson: (text: unknown, fallback: unknown = null) => {
      try {
        return JSON.parse(String(text));
      } catch {
        return fallback;
      }
    },
    toyaml: (v: unknown) => stringifyYaml(v),
    fromyaml: (text: unknown, fallback: unknown = null) => {
      try {
        return parseYaml(String(text));
      } catch {
        return fallback;
      }
    },
    local_md5: (text: unknown) => createHash('md5').update(pyStr(text)).digest('hex'),
  };
  for (const [name, value] of Object.entries(globals)) env.addGlobal(name, value);
}

function attribute(item: unknown, path: string): unknown {
  let v = item;
  for (const part of path.split('.')) v = v === null || v === undefined ? undefined : (v as Record<string, unknown>)[part];
  return v;
}

