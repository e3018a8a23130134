/**
 * Python's view of JavaScript values, as dbt's Jinja shows them: what is a mapping, what is true,
 * and how a value prints (`str()`) or reprs (`repr()`). Templates render `None`, `True`,
 * `['a', 'b']` and `{'a': 1}` where JavaScript would write `null`, `true`, `a,b` and
 * `[object Object]`.
 */

const mappings = new WeakSet<object>();

/**
 * Mark `obj` as a Python mapping: `is mapping`, `.items()`, `.get()`, `tojson` and printing treat
 * it as a dict even though it is not a plain object (a class instance, a Proxy). Returns `obj`.
 */
export function markMapping<T extends object>(obj: T): T {
  mappings.add(obj);
  return obj;
}

const sets = new WeakSet<unknown[]>();

/** Mark `items` (distinct values) as a Python set: it equals another set with the same members in any order. */
export function markSet(items: unknown[]): unknown[] {
  sets.add(items);
  return items;
}

/** A Python dict: a plain object (`{...}` in a template, parsed JSON/YAML) or one marked by `markMapping`. */
export function isMapping(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  if (mappings.has(v)) return true;
  if (Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** An object that prints through its own `toString()` (a relation renders as its quoted name). */
export function hasOwnString(v: object): boolean {
  const own = (v as { toString?: unknown }).toString;
  return typeof own === 'function' && own !== Object.prototype.toString && own !== Array.prototype.toString;
}

/** The keys Python would list for a mapping: not Nunjucks' keyword-argument marker. */
export function mappingKeys(v: object): string[] {
  return Object.keys(v).filter((k) => k !== '__keywords');
}

/** Python's truth value: empty lists, dicts and strings, 0, None and False are false. */
export function pyTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '' || Number.isNaN(v)) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && isMapping(v) && !hasOwnString(v)) return mappingKeys(v).length > 0;
  if (v instanceof String) return v.length > 0; // Nunjucks' SafeString: a macro's output
  return true;
}

/** Python's `str(v)`: what `{{ v }}`, `~` and `string` produce. */
export function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return pyNumber(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'function') return `<function ${v.name || 'anonymous'}>`;
  if (typeof v === 'object') {
    if (hasOwnString(v)) return String(v);
    if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
    if (isMapping(v)) return `{${mappingKeys(v).map((k) => `${pyRepr(k)}: ${pyRepr(v[k])}`).join(', ')}}`;
  }
  return String(v);
}

/** Python's `repr(v)`: strings quoted as Python quotes them, everything else as `str`. */
export function pyRepr(v: unknown): string {
  if (typeof v !== 'string') return pyStr(v);
  const quote = v.includes("'") && !v.includes('"') ? '"' : "'";
  const escaped = v
    .replace(/\\/g, '\\\\')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t');
  return quote + (quote === "'" ? escaped.replace(/'/g, "\\'") : escaped) + quote;
}

function pyNumber(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  return String(n);
}

/** Python's `==`: lists and dicts by content, `1 == True`, a SafeString like its text. */
export function pyEquals(a: unknown, b: unknown): boolean {
  if (a instanceof String) a = String(a);
  if (b instanceof String) b = String(b);
  if (a === b) return true;
  if (a === null || a === undefined) return b === null || b === undefined;
  if (typeof a === 'boolean' || typeof b === 'boolean') return (typeof a === 'number' || typeof a === 'boolean') && (typeof b === 'number' || typeof b === 'boolean') && Number(a) === Number(b);
  if (Array.isArray(a) && Array.isArray(b) && sets.has(a) && sets.has(b)) {
    return a.length === b.length && a.every((x) => b.some((y) => pyEquals(x, y)));
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => pyEquals(x, b[i]));
  }
  if (isMapping(a) && isMapping(b) && !hasOwnString(a) && !hasOwnString(b)) {
    const ka = mappingKeys(a);
    const kb = mappingKeys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && pyEquals(a[k], b[k]));
  }
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
    const eq = (a as { equals?: (o: unknown) => boolean }).equals;
    if (typeof eq === 'function') return eq.call(a, b);
    if (hasOwnString(a) && hasOwnString(b)) return String(a) === String(b);
  }
  return false;
}
