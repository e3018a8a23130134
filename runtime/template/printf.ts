/**
 * Python's printf-style `%` on a string, as Jinja evaluates `"%s_%d" % (name, n)`: JavaScript's
 * `%` is the remainder, which turns a format string into NaN. Supported conversions: s, r, d, i,
 * f, F, e, E, x, X, o and %%, with the flags - + space 0 #, a width and a precision (`*` taken
 * from the values, as Python does). `%(name)s` takes values from a mapping. A list stands for
 * Python's tuple (Nunjucks has no tuples). Errors are plain: the caller adds the template's place.
 */
export function pythonFormat(format: string, values: unknown): string {
  const mapping = isMapping(values) ? (values as Record<string, unknown>) : undefined;
  const list = mapping ? [] : Array.isArray(values) ? values : [values];
  let next = 0;
  const take = (): unknown => {
    if (next >= list.length) throw new Error(`not enough arguments for format string ${JSON.stringify(format)}`);
    return list[next++];
  };
  const spec = /%(?:\(([^)]*)\))?([-+ 0#]*)(\*|\d+)?(?:\.(\*|\d*))?([a-zA-Z%])/g;
  let out = '';
  let last = 0;
  for (let m = spec.exec(format); m !== null; m = spec.exec(format)) {
    out += format.slice(last, m.index);
    last = spec.lastIndex;
    const [, key, flags, widthText, precisionText, conversion] = m;
    if (conversion === '%' && key === undefined && flags === '' && widthText === undefined && precisionText === undefined) {
      out += '%';
      continue;
    }
    const width = widthText === '*' ? Number(take()) : widthText === undefined ? undefined : Number(widthText);
    const precision = precisionText === '*' ? Number(take()) : precisionText === undefined ? undefined : Number(precisionText || '0');
    let value: unknown;
    if (key !== undefined) {
      if (!mapping) throw new Error(`format string ${JSON.stringify(format)} names %(${key}) but the value is not a mapping`);
      if (!Object.hasOwn(mapping, key)) throw new Error(`format string ${JSON.stringify(format)}: no key '${key}'`);
      value = mapping[key];
    } else {
      value = conversion === '%' ? '%' : take();
    }
    out += pad(convert(conversion, value, flags, precision, format), flags, width, conversion);
  }
  out += format.slice(last);
  if (!mapping && next < list.length) {
    throw new Error(`not all arguments converted during string formatting of ${JSON.stringify(format)}`);
  }
  return out;
}

function isMapping(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

/** How Jinja prints a value: Python's spellings of the constants. */
function pyStr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return String(v);
}

function pyRepr(v: unknown): string {
  return typeof v === 'string' ? `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : pyStr(v);
}

function toNumber(v: unknown, conversion: string, format: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return Number(v); // Python's bool is an int
  throw new Error(`%${conversion} format: a number is required, not ${JSON.stringify(v)} (in ${JSON.stringify(format)})`);
}

function convert(conversion: string, value: unknown, flags: string, precision: number | undefined, format: string): string {
  const sign = (n: number, body: string) => (n < 0 || Object.is(n, -0) ? '-' : flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : '') + body;
  switch (conversion) {
    case 's':
    case 'r': {
      const text = conversion === 's' ? pyStr(value) : pyRepr(value);
      return precision === undefined ? text : text.slice(0, precision);
    }
    case 'd':
    case 'i': {
      const n = Math.trunc(toNumber(value, conversion, format));
      return sign(n, String(Math.abs(n)));
    }
    case 'f':
    case 'F': {
      const n = toNumber(value, conversion, format);
      const body = fixed(Math.abs(n), precision ?? 6);
      return sign(n, flags.includes('#') && (precision ?? 6) === 0 ? `${body}.` : body);
    }
    case 'e':
    case 'E': {
      const n = toNumber(value, conversion, format);
      // JavaScript writes e+5; Python writes e+05.
      const body = Math.abs(n).toExponential(precision ?? 6).replace(/e([+-])(\d)$/, 'e$10$2');
      return sign(n, conversion === 'E' ? body.toUpperCase() : body);
    }
    case 'x':
    case 'X':
    case 'o': {
      const n = Math.trunc(toNumber(value, conversion, format));
      let body = Math.abs(n).toString(conversion === 'o' ? 8 : 16);
      if (flags.includes('#')) body = (conversion === 'o' ? '0o' : '0x') + body;
      return sign(n, conversion === 'X' ? body.toUpperCase() : body);
    }
    case '%':
      return '%';
    default:
      throw new Error(`unsupported format character '${conversion}' in ${JSON.stringify(format)}`);
  }
}

/**
 * `toFixed` with Python's rounding: an exact tie goes to the even digit ('%.0f' % 2.5 is '2'),
 * where JavaScript rounds it up. Other values round the same way in both.
 */
function fixed(n: number, precision: number): string {
  const rounded = n.toFixed(precision);
  if (n >= 1e21 || precision > 60) return rounded;
  const exact = n.toFixed(100);
  const cut = exact.indexOf('.') + (precision === 0 ? 0 : precision + 1);
  if (!/^50*$/.test(exact.slice(cut + (precision === 0 ? 1 : 0)))) return rounded;
  const kept = exact.slice(0, cut);
  return Number(kept[kept.length - 1]) % 2 === 0 ? kept : rounded;
}

function pad(text: string, flags: string, width: number | undefined, conversion: string): string {
  if (width === undefined || text.length >= width) return text;
  if (flags.includes('-')) return text.padEnd(width);
  if (flags.includes('0') && conversion !== 's' && conversion !== 'r') {
    // Zeros go between the sign (or 0x prefix) and the digits: -0042, not 00-42.
    const prefix = /^([-+ ]?(?:0[xXo])?)/.exec(text)![1];
    return prefix + text.slice(prefix.length).padStart(width - prefix.length, '0');
  }
  return text.padStart(width);
}
