/**
 * Python's indexing and slicing: `x[-1]` is the last item, `x[1:]`, `x[:-1]` and `x[::-1]` work on
 * lists and strings alike (a string's slice is a string). Out of range is undefined, as Jinja's
 * lookup of a missing item.
 */
export function pyIndex(obj: unknown, index: number): unknown {
  if (obj === null || obj === undefined) return undefined;
  if (Array.isArray(obj) || typeof obj === 'string') {
    const at = index < 0 ? obj.length + index : index;
    return at >= 0 && at < obj.length ? obj[at] : undefined;
  }
  return (obj as Record<number, unknown>)[index];
}

export function pySlice(obj: unknown, start: unknown, stop: unknown, step: unknown): unknown {
  const text = typeof obj === 'string' || obj instanceof String ? String(obj) : undefined;
  const items: unknown[] = text !== undefined ? [...text] : Array.isArray(obj) ? obj : [];
  const by = step === null || step === undefined ? 1 : Number(step);
  if (by === 0) throw new Error('slice step cannot be zero');
  const n = items.length;
  const clamp = (v: unknown, fallback: number, low: number, high: number): number => {
    if (v === null || v === undefined) return fallback;
    let i = Math.trunc(Number(v));
    if (i < 0) i += n;
    return Math.min(Math.max(i, low), high);
  };
  const out: unknown[] = [];
  if (by > 0) {
    const a = clamp(start, 0, 0, n);
    const b = clamp(stop, n, 0, n);
    for (let i = a; i < b; i += by) out.push(items[i]);
  } else {
    const a = clamp(start, n - 1, -1, n - 1);
    const b = clamp(stop, -1, -1, n - 1);
    for (let i = a; i > b; i += by) out.push(items[i]);
  }
  return text !== undefined ? out.join('') : out;
}
