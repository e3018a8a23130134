import { isMapping, mappingKeys, pyEquals, pyRepr, pyStr } from './py-values.js';

/**
 * Python's methods of str, list and dict, as templates call them (`name.upper()`,
 * `cols.append(c)`, `d.items()`). `pyMethod` answers the bound method, or undefined when the
 * value has no Python method of that name (then the JavaScript property is looked up).
 */
export function pyMethod(obj: unknown, name: string): ((...args: any[]) => unknown) | undefined {
  if (typeof obj === 'string' || obj instanceof String) {
    return Object.hasOwn(STRING_METHODS, name) ? STRING_METHODS[name].bind(String(obj)) : undefined;
  }
  if (Array.isArray(obj)) {
    return Object.hasOwn(LIST_METHODS, name) ? LIST_METHODS[name].bind(obj) : undefined;
  }
  if (isMapping(obj) && Object.hasOwn(DICT_METHODS, name) && !(name in obj && typeof obj[name] === 'function')) {
    return DICT_METHODS[name].bind(obj);
  }
  return undefined;
}

/** Python's `'sep'.join(items)`, `str(x)` of each item. */
function joinStrings(sep: string, items: unknown): string {
  return iterate(items).map((x) => pyStr(x)).join(sep);
}

/** What a `for` loop over `v` visits: a list's items, a dict's keys, a string's characters. */
export function iterate(v: unknown): unknown[] {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return [...v];
  if (isMapping(v)) return mappingKeys(v);
  if (typeof v === 'object' && Symbol.iterator in v) return [...(v as Iterable<unknown>)];
  throw new Error(`'${pyTypeName(v)}' object is not iterable`);
}

export function pyTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string') return 'str';
  if (Array.isArray(v)) return 'list';
  if (isMapping(v)) return 'dict';
  return (v as object).constructor?.name ?? 'object';
}

function splitWhitespace(text: string, max: number, fromRight: boolean): string[] {
  const words = text.trim().split(/\s+/).filter((x) => x !== '');
  if (max < 0 || words.length <= max + 1) return words;
  if (!fromRight) {
    const parts: string[] = [];
    let rest = text.trimStart();
    for (let i = 0; i < max; i++) {
      const m = /^(\S+)\s+/.exec(rest)!;
      parts.push(m[1]);
      rest = rest.slice(m[0].length);
    }
    return [...parts, rest.trimEnd()];
  }
  const parts: string[] = [];
  let rest = text.trimEnd();
  for (let i = 0; i < max; i++) {
    const m = /\s+(\S+)$/.exec(rest)!;
    parts.unshift(m[1]);
    rest = rest.slice(0, m.index);
  }
  return [rest.trimStart(), ...parts];
}

function trimChars(text: string, chars: string | undefined | null, start: boolean, end: boolean): string {
  if (chars === undefined || chars === null) return start && end ? text.trim() : start ? text.trimStart() : text.trimEnd();
  let a = 0;
  let b = text.length;
  while (start && a < b && chars.includes(text[a])) a++;
  while (end && b > a && chars.includes(text[b - 1])) b--;
  return text.slice(a, b);
}

function count(haystack: string, needle: string): number {
  if (needle === '') return haystack.length + 1;
  return haystack.split(needle).length - 1;
}

const STRING_METHODS: Record<string, (this: string, ...args: any[]) => unknown> = {
  upper() { return this.toUpperCase(); },
  lower() { return this.toLowerCase(); },
  strip(chars?: string) { return trimChars(this, chars, true, true); },
  lstrip(chars?: string) { return trimChars(this, chars, true, false); },
  rstrip(chars?: string) { return trimChars(this, chars, false, true); },
  replace(old: string, replacement: string, max?: number) {
    if (max === undefined || max < 0) return this.split(old).join(replacement);
    const parts = this.split(old);
    return parts.slice(0, max + 1).join(replacement) + (parts.length > max + 1 ? old + parts.slice(max + 1).join(old) : '');
  },
  split(sep?: string | null, max: number = -1) {
    if (sep === undefined || sep === null) return splitWhitespace(this, max, false);
    if (sep === '') throw new Error('empty separator');
    const parts = this.split(sep);
    if (max < 0 || parts.length <= max + 1) return parts;
    return [...parts.slice(0, max), parts.slice(max).join(sep)];
  },
  rsplit(sep?: string | null, max: number = -1) {
    if (sep === undefined || sep === null) return splitWhitespace(this, max, true);
    if (sep === '') throw new Error('empty separator');
    const parts = this.split(sep);
    if (max < 0 || parts.length <= max + 1) return parts;
    return [parts.slice(0, parts.length - max).join(sep), ...parts.slice(parts.length - max)];
  },
  splitlines(keepends?: boolean) {
    const lines = this.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? [];
    return keepends ? lines : lines.map((l) => l.replace(/(\r\n|\r|\n)$/, ''));
  },
  startswith(prefix: string | string[]) { return (Array.isArray(prefix) ? prefix : [prefix]).some((p) => this.startsWith(p)); },
  endswith(suffix: string | string[]) { return (Array.isArray(suffix) ? suffix : [suffix]).some((s) => this.endsWith(s)); },
  title() { return this.toLowerCase().replace(/(^|[^a-zA-Z])([a-z])/g, (_, a: string, b: string) => a + b.toUpperCase()); },
  capitalize() { return this.charAt(0).toUpperCase() + this.slice(1).toLowerCase(); },
  swapcase() { return [...this].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join(''); },
  join(items: unknown) { return joinStrings(this, items); },
  find(sub: string, start?: number) { return this.indexOf(sub, start); },
  rfind(sub: string) { return this.lastIndexOf(sub); },
  index(sub: string, start?: number) {
    const at = this.indexOf(sub, start);
    if (at < 0) throw new Error('substring not found');
    return at;
  },
  count(sub: string) { return count(this, sub); },
  isdigit() { return /^[0-9]+$/.test(this); },
  isnumeric() { return /^[0-9]+$/.test(this); },
  isdecimal() { return /^[0-9]+$/.test(this); },
  isalpha() { return /^\p{L}+$/u.test(this); },
  isalnum() { return /^[\p{L}0-9]+$/u.test(this); },
  isspace() { return /^\s+$/.test(this); },
  isupper() { return /\p{Lu}/u.test(this) && this === this.toUpperCase(); },
  islower() { return /\p{Ll}/u.test(this) && this === this.toLowerCase(); },
  zfill(width: number) {
    const sign = /^[+-]/.test(this) ? this[0] : '';
    return sign + this.slice(sign.length).padStart(width - sign.length, '0');
  },
  ljust(width: number, fill = ' ') { return this.padEnd(width, fill); },
  rjust(width: number, fill = ' ') { return this.padStart(width, fill); },
  center(width: number, fill = ' ') {
    const total = Math.max(0, width - this.length);
    const left = Math.floor(total / 2) + (total % 2 && width % 2 ? 1 : 0);
    return fill.repeat(left) + this + fill.repeat(total - left);
  },
  partition(sep: string) {
    const at = this.indexOf(sep);
    return at < 0 ? [String(this), '', ''] : [this.slice(0, at), sep, this.slice(at + sep.length)];
  },
  rpartition(sep: string) {
    const at = this.lastIndexOf(sep);
    return at < 0 ? ['', '', String(this)] : [this.slice(0, at), sep, this.slice(at + sep.length)];
  },
  format(...args: unknown[]) { return strFormat(this, args); },
  encode() { return String(this); },
};

/** Python's `str.format`: `{}`, `{0}`, `{name}`, `{name.attr}`, `{!r}` and simple specs (`{:>10}`, `{:.2f}`). */
function strFormat(template: string, args: unknown[]): string {
  const last = args[args.length - 1] as Record<string, unknown> | undefined;
  const kwargs = last !== null && typeof last === 'object' && Object.hasOwn(last, '__keywords') ? last : {};
  const positional = kwargs === last ? args.slice(0, -1) : args;
  let auto = 0;
  return template.replace(/\{\{|\}\}|\{([^{}!:]*)(?:!([rs]))?(?::([^{}]*))?\}/g, (whole, field: string | undefined, conversion?: string, spec?: string) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    const [head, ...path] = (field ?? '').split('.');
    let value: unknown = head === '' ? positional[auto++] : /^\d+$/.test(head) ? positional[Number(head)] : kwargs[head];
    if (value === undefined && !(head in kwargs) && !/^\d*$/.test(head)) throw new Error(`KeyError: '${head}'`);
    for (const attr of path) value = (value as Record<string, unknown>)?.[attr];
    const text = conversion === 'r' ? pyRepr(value) : value;
    return applySpec(text, spec ?? '');
  });
}

function applySpec(value: unknown, spec: string): string {
  const m = /^(?:(.)?([<>^]))?([+-])?(0)?(\d+)?(,)?(?:\.(\d+))?([sdf%])?$/.exec(spec);
  if (!m || spec === '') return pyStr(value);
  const [, fillChar, align, sign, zero, widthText, comma, precisionText, type] = m;
  let text: string;
  if (type === 'f' || type === '%' || (precisionText !== undefined && typeof value === 'number')) {
    const n = Number(value) * (type === '%' ? 100 : 1);
    text = n.toFixed(precisionText === undefined ? 6 : Number(precisionText));
    if (comma) text = text.replace(/^(-?\d+)/, (d) => Number(d).toLocaleString('en-US'));
    if (type === '%') text += '%';
    if (sign === '+' && n >= 0) text = `+${text}`;
  } else if (type === 'd' || (typeof value === 'number' && comma)) {
    text = comma ? Number(value).toLocaleString('en-US') : String(Math.trunc(Number(value)));
    if (sign === '+' && Number(value) >= 0) text = `+${text}`;
  } else {
    text = pyStr(value);
  }
  const width = widthText === undefined ? 0 : Number(widthText);
  if (text.length >= width) return text;
  const fill = fillChar ?? (zero ? '0' : ' ');
  const how = align ?? (typeof value === 'number' ? '>' : '<');
  if (how === '<') return text.padEnd(width, fill);
  if (how === '>') return text.padStart(width, fill);
  const left = Math.floor((width - text.length) / 2);
  return fill.repeat(left) + text + fill.repeat(width - text.length - left);
}

function indexOf(list: unknown[], item: unknown): number {
  return list.findIndex((x) => pyEquals(x, item));
}

const LIST_METHODS: Record<string, (this: unknown[], ...args: any[]) => unknown> = {
  append(item: unknown) { this.push(item); return null; },
  extend(items: unknown) { this.push(...iterate(items)); return null; },
  insert(at: number, item: unknown) { this.splice(at < 0 ? Math.max(0, this.length + at) : at, 0, item); return null; },
  pop(at?: number) {
    if (this.length === 0) throw new Error('pop from empty list');
    if (at === undefined) return this.pop();
    const i = at < 0 ? this.length + at : at;
    if (i < 0 || i >= this.length) throw new Error('pop index out of range');
    return this.splice(i, 1)[0];
  },
  remove(item: unknown) {
    const i = indexOf(this, item);
    if (i < 0) throw new Error(`list.remove(x): ${pyRepr(item)} not in list`);
    this.splice(i, 1);
    return null;
  },
  index(item: unknown) {
    const i = indexOf(this, item);
    if (i < 0) throw new Error(`${pyRepr(item)} is not in list`);
    return i;
  },
  count(item: unknown) { return this.filter((x) => pyEquals(x, item)).length; },
  reverse() { this.reverse(); return null; },
  sort(...args: unknown[]) {
    const kw = (args[args.length - 1] ?? {}) as { reverse?: boolean };
    this.sort(pyCompare);
    if (kw.reverse) this.reverse();
    return null;
  },
  copy() { return [...this]; },
  clear() { this.length = 0; return null; },
};

const DICT_METHODS: Record<string, (this: Record<string, unknown>, ...args: any[]) => unknown> = {
  items() { return mappingKeys(this).map((k) => [k, this[k]]); },
  keys() { return mappingKeys(this); },
  values() { return mappingKeys(this).map((k) => this[k]); },
  get(key: unknown, fallback: unknown = null) {
    const k = String(key);
    return Object.hasOwn(this, k) || k in this ? (this[k] === undefined ? fallback : this[k]) : fallback;
  },
  update(...args: unknown[]) {
    for (const arg of args) {
      if (arg === null || arg === undefined) continue;
      if (Array.isArray(arg)) for (const [k, v] of arg as [string, unknown][]) this[k] = v;
      else for (const k of mappingKeys(arg as object)) this[k] = (arg as Record<string, unknown>)[k];
    }
    return null;
  },
  pop(key: unknown, ...fallback: unknown[]) {
    const k = String(key);
    if (!Object.hasOwn(this, k)) {
      if (fallback.length > 0) return fallback[0];
      throw new Error(`KeyError: ${pyRepr(key)}`);
    }
    const value = this[k];
    delete this[k];
    return value;
  },
  setdefault(key: unknown, fallback: unknown = null) {
    const k = String(key);
    if (!Object.hasOwn(this, k)) this[k] = fallback;
    return this[k];
  },
  copy() { return { ...this }; },
  clear() { for (const k of Object.keys(this)) delete this[k]; return null; },
  has_key(key: unknown) { return Object.hasOwn(this, String(key)); },
};

/** Python's ordering of two values for `sort`: numbers by value, strings by code point, None first. */
export function pyCompare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = pyCompare(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  if (typeof a === 'number' || typeof a === 'boolean') return Number(a) - Number(b);
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
