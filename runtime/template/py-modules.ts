import { markMapping } from './py-values.js';

/**
 * The Python modules dbt hands templates as `modules.*`: `datetime` (datetime, date, timedelta,
 * timezone.utc) and `re` (compile, match, search, fullmatch, findall, sub, split, flags). All
 * times are UTC, as dbt's run_started_at is.
 */

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Python's `timedelta`. */
export class PyTimedelta {
  constructor(readonly ms: number) {}
  get days(): number {
    return Math.floor(this.ms / 86_400_000);
  }
  get seconds(): number {
    return Math.floor((this.ms - this.days * 86_400_000) / 1000);
  }
  total_seconds(): number {
    return this.ms / 1000;
  }
  __add__(other: unknown): unknown {
    if (other instanceof PyTimedelta) return new PyTimedelta(this.ms + other.ms);
    if (other instanceof PyDatetime) return other.__add__(this);
    return undefined;
  }
  __sub__(other: unknown): unknown {
    return other instanceof PyTimedelta ? new PyTimedelta(this.ms - other.ms) : undefined;
  }
  toString(): string {
    const rest = this.ms - this.days * 86_400_000;
    const h = Math.floor(rest / 3_600_000);
    const m = Math.floor((rest % 3_600_000) / 60_000);
    const s = Math.floor((rest % 60_000) / 1000);
    const days = this.days === 0 ? '' : `${this.days} day${Math.abs(this.days) === 1 ? '' : 's'}, `;
    return `${days}${h}:${pad(m)}:${pad(s)}`;
  }
}

function timedelta(...args: unknown[]): PyTimedelta {
  const last = args[args.length - 1] as Record<string, number> | undefined;
  const kw = last && typeof last === 'object' ? last : {};
  const pos = (kw === last ? args.slice(0, -1) : args) as number[];
  const [days = 0, seconds = 0, microseconds = 0, milliseconds = 0, minutes = 0, hours = 0, weeks = 0] = pos;
  const v = (name: string, p: number) => (kw[name] ?? p) as number;
  const ms =
    v('days', days) * 86_400_000 + v('seconds', seconds) * 1000 + v('microseconds', microseconds) / 1000 + v('milliseconds', milliseconds) +
    v('minutes', minutes) * 60_000 + v('hours', hours) * 3_600_000 + v('weeks', weeks) * 604_800_000;
  return new PyTimedelta(ms);
}

/** Python's `datetime.datetime` (or `datetime.date` when `dateOnly`), in UTC. */
export class PyDatetime {
  constructor(readonly date: Date, readonly dateOnly = false, readonly aware = false) {}
  get year(): number { return this.date.getUTCFullYear(); }
  get month(): number { return this.date.getUTCMonth() + 1; }
  get day(): number { return this.date.getUTCDate(); }
  get hour(): number { return this.date.getUTCHours(); }
  get minute(): number { return this.date.getUTCMinutes(); }
  get second(): number { return this.date.getUTCSeconds(); }
  get microsecond(): number { return this.date.getUTCMilliseconds() * 1000; }
  get tzinfo(): unknown { return this.aware ? UTC : null; }
  strftime(format: string): string {
    const d = this.date;
    return format.replace(/%([a-zA-Z%])/g, (whole, c: string) => {
      switch (c) {
        case 'Y': return String(d.getUTCFullYear());
        case 'y': return pad(d.getUTCFullYear() % 100);
        case 'm': return pad(d.getUTCMonth() + 1);
        case 'd': return pad(d.getUTCDate());
        case 'H': return pad(d.getUTCHours());
        case 'I': return pad(((d.getUTCHours() + 11) % 12) + 1);
        case 'p': return d.getUTCHours() < 12 ? 'AM' : 'PM';
        case 'M': return pad(d.getUTCMinutes());
        case 'S': return pad(d.getUTCSeconds());
        case 'f': return pad(d.getUTCMilliseconds() * 1000, 6);
        case 'j': return pad(Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1, 3);
        case 'A': return DAY_NAMES[d.getUTCDay()];
        case 'a': return DAY_NAMES[d.getUTCDay()].slice(0, 3);
        case 'B': return MONTH_NAMES[d.getUTCMonth()];
        case 'b': return MONTH_NAMES[d.getUTCMonth()].slice(0, 3);
        case 'w': return String(d.getUTCDay());
        case 'z': return this.aware ? '+0000' : '';
        case 'Z': return this.aware ? 'UTC' : '';
        case '%': return '%';
        default: return whole;
      }
    });
  }
  isoformat(sep = 'T'): string {
    if (this.dateOnly) return this.strftime('%Y-%m-%d');
    const micro = this.microsecond ? `.${pad(this.microsecond, 6)}` : '';
    return `${this.strftime(`%Y-%m-%d${sep}%H:%M:%S`)}${micro}${this.aware ? '+00:00' : ''}`;
  }
  timestamp(): number {
    return this.date.getTime() / 1000;
  }
  weekday(): number {
    return (this.date.getUTCDay() + 6) % 7;
  }
  isoweekday(): number {
    return this.weekday() + 1;
  }
  toordinal(): number {
    return Math.floor(this.date.getTime() / 86_400_000) + 719_163;
  }
  replace(...args: unknown[]): PyDatetime {
    const kw = (args[args.length - 1] ?? {}) as Record<string, number>;
    const d = new Date(Date.UTC(kw.year ?? this.year, (kw.month ?? this.month) - 1, kw.day ?? this.day, kw.hour ?? this.hour, kw.minute ?? this.minute, kw.second ?? this.second, (kw.microsecond ?? this.microsecond) / 1000));
    return new PyDatetime(d, this.dateOnly, 'tzinfo' in kw ? kw.tzinfo !== null : this.aware);
  }
  astimezone(): PyDatetime {
    return new PyDatetime(this.date, this.dateOnly, true);
  }
  __add__(other: unknown): unknown {
    return other instanceof PyTimedelta ? new PyDatetime(new Date(this.date.getTime() + other.ms), this.dateOnly, this.aware) : undefined;
  }
  __sub__(other: unknown): unknown {
    if (other instanceof PyTimedelta) return new PyDatetime(new Date(this.date.getTime() - other.ms), this.dateOnly, this.aware);
    if (other instanceof PyDatetime) return new PyTimedelta(this.date.getTime() - other.date.getTime());
    return undefined;
  }
  valueOf(): number {
    return this.date.getTime();
  }
  equals(other: unknown): boolean {
    return other instanceof PyDatetime && other.date.getTime() === this.date.getTime();
  }
  toString(): string {
    return this.isoformat(' ');
  }
  toJSON(): string {
    return this.isoformat();
  }
}

const UTC = { toString: () => 'UTC', utcoffset: () => new PyTimedelta(0), tzname: () => 'UTC' };

/** A Python-like datetime of `date` (UTC, timezone-aware): what `run_started_at` is in dbt. */
export function pythonDatetime(date: Date): PyDatetime {
  return new PyDatetime(date, false, true);
}

function construct(dateOnly: boolean) {
  return (year: number, month: number, day: number, hour = 0, minute = 0, second = 0, microsecond = 0) =>
    new PyDatetime(new Date(Date.UTC(year, month - 1, day, dateOnly ? 0 : hour, dateOnly ? 0 : minute, dateOnly ? 0 : second, dateOnly ? 0 : microsecond / 1000)), dateOnly);
}

function parseIso(text: string, dateOnly: boolean): PyDatetime {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(String(text).trim());
  if (!m) throw new Error(`Invalid isoformat string: '${text}'`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '0', zone] = m;
  let ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s, Number(frac.padEnd(6, '0')) / 1000);
  if (zone && zone !== 'Z') {
    const z = /([+-])(\d{2}):?(\d{2})/.exec(zone)!;
    ms -= (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3])) * 60_000;
  }
  return new PyDatetime(new Date(ms), dateOnly, zone !== undefined);
}

function strptime(text: string, format: string): PyDatetime {
  const fields: string[] = [];
  const pattern = format.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%([YmdHMSfjy%])/g, (_, c: string) => {
    if (c === '%') return '%';
    fields.push(c);
    return c === 'Y' ? '(\\d{4})' : c === 'f' ? '(\\d{1,6})' : c === 'j' ? '(\\d{1,3})' : '(\\d{1,2})';
  });
  const m = new RegExp(`^${pattern}$`).exec(text);
  if (!m) throw new Error(`time data '${text}' does not match format '${format}'`);
  const v: Record<string, number> = { Y: 1900, m: 1, d: 1, H: 0, M: 0, S: 0, f: 0 };
  fields.forEach((c, i) => (v[c] = c === 'f' ? Number(m[i + 1].padEnd(6, '0')) : c === 'y' ? 2000 + Number(m[i + 1]) : Number(m[i + 1])));
  if (fields.includes('y')) v.Y = v.y;
  return construct(false)(v.Y, v.m, v.d, v.H, v.M, v.S, v.f);
}

const datetimeClass = Object.assign(construct(false), {
  now: () => new PyDatetime(new Date()),
  utcnow: () => new PyDatetime(new Date()),
  today: () => new PyDatetime(new Date()),
  fromisoformat: (text: string) => parseIso(text, false),
  strptime,
  fromtimestamp: (seconds: number) => new PyDatetime(new Date(seconds * 1000)),
  utcfromtimestamp: (seconds: number) => new PyDatetime(new Date(seconds * 1000)),
  combine: (date: PyDatetime) => new PyDatetime(date.date),
});

const dateClass = Object.assign(construct(true), {
  today: () => {
    const now = new Date();
    return new PyDatetime(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())), true);
  },
  fromisoformat: (text: string) => parseIso(text, true),
});

const DATETIME_MODULE = { datetime: datetimeClass, date: dateClass, timedelta, timezone: { utc: UTC }, MINYEAR: 1, MAXYEAR: 9999 };

/** Python's `re`: the pattern syntax dbt templates use is the same in JavaScript (named groups aside). */
const IGNORECASE = 2;
const MULTILINE = 8;
const DOTALL = 16;

function toRegExp(pattern: unknown, flags: number, global: boolean): RegExp {
  if (pattern instanceof PyPattern) return new RegExp(pattern.regex.source, pattern.regex.flags.replace('g', '') + (global ? 'g' : ''));
  const source = String(pattern).replace(/\(\?P<(\w+)>/g, '(?<$1>').replace(/\(\?P=(\w+)\)/g, '\\k<$1>').replace(/\\A/g, '^').replace(/\\Z/g, '$');
  return new RegExp(source, `${flags & IGNORECASE ? 'i' : ''}${flags & MULTILINE ? 'm' : ''}${flags & DOTALL ? 's' : ''}u${global ? 'g' : ''}`);
}

class PyMatch {
  constructor(private readonly m: RegExpExecArray) {}
  group(...which: Array<number | string>): unknown {
    if (which.length > 1) return which.map((w) => this.group(w));
    const w = which[0] ?? 0;
    const v = typeof w === 'number' ? this.m[w] : this.m.groups?.[w];
    return v === undefined ? null : v;
  }
  groups(): unknown[] {
    return this.m.slice(1).map((v) => (v === undefined ? null : v));
  }
  groupdict(): Record<string, unknown> {
    return markMapping({ ...(this.m.groups ?? {}) });
  }
  start(): number {
    return this.m.index;
  }
  end(): number {
    return this.m.index + this.m[0].length;
  }
  toString(): string {
    return `<re.Match object; match='${this.m[0]}'>`;
  }
}

function pyReplacement(repl: string): string {
  return repl.replace(/\$/g, '$$$$').replace(/\\g<(\w+)>/g, (_, g: string) => (/^\d+$/.test(g) ? `$${g}` : `$<${g}>`)).replace(/\\(\d+)/g, '$$$1');
}

const RE = {
  IGNORECASE, I: IGNORECASE, MULTILINE, M: MULTILINE, DOTALL, S: DOTALL,
  compile: (pattern: unknown, flags = 0) => new PyPattern(toRegExp(pattern, flags, false)),
  match: (pattern: unknown, text: string, flags = 0) => matchAt(toRegExp(pattern, flags, false), text, 'start'),
  fullmatch: (pattern: unknown, text: string, flags = 0) => matchAt(toRegExp(pattern, flags, false), text, 'full'),
  search: (pattern: unknown, text: string, flags = 0) => matchAt(toRegExp(pattern, flags, false), text, 'any'),
  findall: (pattern: unknown, text: string, flags = 0) => findall(toRegExp(pattern, flags, true), text),
  sub: (pattern: unknown, repl: unknown, text: string, count = 0, flags = 0) => sub(toRegExp(pattern, flags, true), repl, text, count),
  split: (pattern: unknown, text: string, maxsplit = 0, flags = 0) => split(toRegExp(pattern, flags, true), text, maxsplit),
  escape: (text: string) => String(text).replace(/[.*+?^${}()|[\]\\\-#&~ ]/g, '\\$&'),
};

class PyPattern {
  constructor(readonly regex: RegExp) {}
  get pattern(): string { return this.regex.source; }
  match(text: string) { return matchAt(this.regex, text, 'start'); }
  fullmatch(text: string) { return matchAt(this.regex, text, 'full'); }
  search(text: string) { return matchAt(this.regex, text, 'any'); }
  findall(text: string) { return findall(toRegExp(this, 0, true), text); }
  sub(repl: unknown, text: string, count = 0) { return sub(toRegExp(this, 0, true), repl, text, count); }
  split(text: string, maxsplit = 0) { return split(toRegExp(this, 0, true), text, maxsplit); }
}

function matchAt(regex: RegExp, text: string, how: 'start' | 'full' | 'any'): PyMatch | null {
  const source = how === 'start' ? `^(?:${regex.source})` : how === 'full' ? `^(?:${regex.source})$` : regex.source;
  const m = new RegExp(source, regex.flags.replace('g', '')).exec(String(text));
  return m ? new PyMatch(m) : null;
}

function findall(regex: RegExp, text: string): unknown[] {
  return [...String(text).matchAll(regex)].map((m) => (m.length === 1 ? m[0] : m.length === 2 ? (m[1] ?? '') : m.slice(1).map((v) => v ?? '')));
}

function sub(regex: RegExp, repl: unknown, text: string, count: number): string {
  let n = 0;
  return String(text).replace(regex, (...args: unknown[]) => {
    if (count > 0 && n >= count) return args[0] as string;
    n++;
    if (typeof repl === 'function') {
      const groups = args.slice(0, args.findIndex((a) => typeof a === 'number'));
      return String(repl(new PyMatch(Object.assign(groups as string[], { index: 0, input: text }) as unknown as RegExpExecArray)));
    }
    const single = new RegExp(regex.source, regex.flags.replace('g', ''));
    return (args[0] as string).replace(single, pyReplacement(String(repl)));
  });
}

function split(regex: RegExp, text: string, maxsplit: number): string[] {
  const out: string[] = [];
  let last = 0;
  for (const m of String(text).matchAll(regex)) {
    if (maxsplit > 0 && out.length >= maxsplit) break;
    if (m[0] === '' && m.index === last && m.index !== 0) continue;
    out.push(String(text).slice(last, m.index), ...m.slice(1));
    last = m.index + m[0].length;
  }
  out.push(String(text).slice(last));
  return out;
}

/** `modules`: the Python modules dbt's context exposes. */
export const PY_MODULES = { datetime: DATETIME_MODULE, re: RE };
