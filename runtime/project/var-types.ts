import { boundJson } from '../util/bounded-text.js';
import type { DeclaredVar, VarType } from './project-config.js';

/**
 * The types a var may declare in project.yml (`{type: date, default: ...}`), and what each accepts.
 * Pure: no file, no project. A value is checked as it is given (YAML or JSON), never converted:
 * a date var holds the string 'YYYY-MM-DD' and renders as it; an integer is a number.
 */

export const DECLARED_VAR_TYPES = ['string', 'integer', 'number', 'boolean', 'date', 'timestamp', 'identifier'] as const;
export type DeclaredVarType = (typeof DECLARED_VAR_TYPES)[number];

/** The keys of a var declared with a type. */
export const VAR_DECLARATION_KEYS = ['type', 'default', 'values', 'pattern'] as const;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):?(\d{2}))?$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The type a var takes from a plain default (null: any scalar). */
export function varTypeOf(value: unknown): VarType {
  if (value === null || value === undefined) return 'any';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return 'map';
  if (typeof value === 'number' || typeof value === 'bigint') return 'number';
  if (typeof value === 'boolean') return 'boolean';
  return 'string';
}

export function isDeclaredType(type: unknown): type is DeclaredVarType {
  return (DECLARED_VAR_TYPES as readonly unknown[]).includes(type);
}

/** The type an enumeration's values say: integers, numbers, booleans, else strings (each then checked). */
export function typeOfValues(values: ReadonlyArray<string | number | boolean>): DeclaredVarType {
  if (values.every((x) => typeof x === 'number')) return values.every(Number.isSafeInteger) ? 'integer' : 'number';
  if (values.every((x) => typeof x === 'boolean')) return 'boolean';
  return 'string';
}

/** Whether `value` is of `type`, its enumeration and pattern aside. */
export function ofType(type: VarType, value: unknown): boolean {
  switch (type) {
    case 'any':
      return value === null || ['string', 'number', 'boolean'].includes(typeof value);
    case 'list':
    case 'map':
      return varTypeOf(value) === type;
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'identifier':
      return typeof value === 'string' && IDENTIFIER.test(value);
    case 'date': {
      const m = typeof value === 'string' ? DATE.exec(value) : null;
      return m !== null && realDay(+m[1], +m[2], +m[3]);
    }
    case 'timestamp': {
      const m = typeof value === 'string' ? TIMESTAMP.exec(value) : null;
      if (m === null || !realDay(+m[1], +m[2], +m[3])) return false;
      const [hour, minute, second] = [+m[4], +m[5], m[6] === undefined ? 0 : +m[6]];
      const offsetOk = m[7] === undefined || (+m[7] <= 14 && +m[8] <= 59);
      return hour <= 23 && minute <= 59 && second <= 59 && offsetOk;
    }
  }
}

/** Whether `value` may be `v`'s value: of its type, one of its values, matching its pattern. Null only where the default is null. */
export function varAccepts(v: DeclaredVar, value: unknown): boolean {
  if (value === null || value === undefined) return v.type === 'any' || v.default === null;
  if (!ofType(v.type, value)) return false;
  if (v.values !== undefined && !v.values.includes(value as string | number | boolean)) return false;
  if (v.pattern !== undefined && !fullMatch(v.pattern, value as string)) return false;
  return true;
}

/** What `v` accepts, as a message says it: `a date (YYYY-MM-DD)`, `one of 7d, 30d`. */
export function describeVar(v: Pick<DeclaredVar, 'type' | 'values' | 'pattern'>): string {
  if (v.values !== undefined) return `one of ${v.values.map((x) => boundJson(x, 60)).join(', ')}`;
  const base = describeType(v.type);
  return v.pattern === undefined ? base : `${base} matching ${boundJson(v.pattern, 100)}`;
}

export function describeType(type: VarType): string {
  switch (type) {
    case 'any':
      return 'a string, number, boolean or null';
    case 'list':
      return 'a list';
    case 'map':
      return 'a mapping';
    case 'integer':
      return 'an integer';
    case 'boolean':
      return 'true or false';
    case 'date':
      return 'a date (YYYY-MM-DD)';
    case 'timestamp':
      return 'a timestamp (ISO 8601, e.g. 2024-06-01T12:00:00Z)';
    case 'identifier':
      return 'an identifier ([A-Za-z_][A-Za-z0-9_]*)';
    default:
      return `a ${type}`;
  }
}

/**
 * Why a Lambda event may not set `v`, or undefined when it may. Only a var whose type says what it
 * holds: an untyped var (a plain default) could be anything, and a string without `pattern:` or
 * `values:` could hold SQL or a location.
 */
export function eventRefusal(v: DeclaredVar, name: string): string | undefined {
  if (!v.typed) {
    return `event vars: '${name}' has no type in project.yml, so an event may not set it (declare it with one, e.g. ${name}: { type: date, default: null })`;
  }
  if (v.type === 'string' && v.values === undefined && v.pattern === undefined) {
    return `event vars: '${name}' is a string without pattern: or values: in project.yml, so an event may not set it`;
  }
  return undefined;
}

/**
 * What an event's string may never hold, whatever the var's pattern: a quote, a backslash, a
 * semicolon, an SQL comment, a control character or half a surrogate pair. None of them can leave
 * a quoted literal or start a statement, so no value from an event ever runs as SQL.
 */
export function unsafeInEvent(value: string): string | undefined {
  if (/['"\\;]/.test(value)) return 'a quote, backslash or semicolon';
  if (value.includes('--') || value.includes('/*')) return 'an SQL comment';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'a control character';
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value)) return 'a lone surrogate (not valid UTF-8)';
  return undefined;
}

/** `pattern` must match the whole value (anchored, as a check of a value should be). */
export function fullMatch(pattern: string, value: string): boolean {
  return new RegExp(`^(?:${pattern})$`, 'u').test(value);
}

function realDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return day <= days;
}
