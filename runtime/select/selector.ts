/**
 * The selector grammar of `--select` / `--exclude` (dbt's), parsed into a typed AST. Pure: no
 * manifest, no I/O; a malformed expression is a UsageError with code `selector`.
 *
 *   union        = intersection { whitespace intersection }
 *   intersection = atom { "," atom }
 *   atom         = [ "@" | [N] "+" ] [ method [ "." key ] ":" ] value [ "+" [N] ]
 */
import { UsageError } from '../errors.js';
import { didYouMean } from '../util/did-you-mean.js';
import { boundText } from '../util/bounded-text.js';

export const SELECTOR_METHODS = [
  'fqn',
  'path',
  'file',
  'tag',
  'source',
  'resource_type',
  'test_type',
  'package',
  'config',
  'state',
] as const;
export type SelectorMethod = (typeof SELECTOR_METHODS)[number];

export const STATE_VALUES = [
  'modified',
  'modified.body',
  'modified.configs',
  'modified.macros',
  'new',
  'old',
  'unmodified',
] as const;
export type StateValue = (typeof STATE_VALUES)[number];

/** Values `resource_type:` accepts: ours, plus dbt's `exposure`, which matches nothing (exposures are not nodes here). */
export const RESOURCE_TYPE_VALUES = [
  'model',
  'seed',
  'source',
  'test',
  'unit_test',
  'snapshot',
  'analysis',
  'exposure',
] as const;
export const TEST_TYPE_VALUES = ['data', 'unit', 'generic', 'singular'] as const;

/** One criterion with its graph operators, e.g. `2+tag:gold+1`. */
export interface SelectorAtom {
  readonly kind: 'atom';
  readonly method: SelectorMethod;
  /** For `config.<key>`: the key path (`config.meta.owner:x` → `['meta', 'owner']`). */
  readonly key?: readonly string[];
  readonly value: string;
  /** Generations of ancestors to add: undefined none, Infinity all (`+x`), N for `N+x`. */
  readonly parents: number | undefined;
  /** Generations of descendants to add: undefined none, Infinity all (`x+`), N for `x+N`. */
  readonly children: number | undefined;
  /** `@x`: x, its descendants, and every ancestor of those. */
  readonly at: boolean;
  /** The atom as written. */
  readonly text: string;
}

/** Atoms joined by commas: a node must match every one. */
export interface SelectorIntersection {
  readonly kind: 'intersection';
  readonly parts: readonly SelectorAtom[];
  /** The expression as written (one space-separated word). */
  readonly text: string;
}

/** Space-separated expressions: a node may match any one. */
export interface SelectorUnion {
  readonly kind: 'union';
  readonly parts: readonly SelectorIntersection[];
}

/** Parse one `--select` argument (which may hold several space-separated expressions). */
export function parseSelector(text: string): SelectorUnion {
  const words = text.split(/\s+/).filter((word) => word !== '');
  return { kind: 'union', parts: words.map(parseIntersection) };
}

function parseIntersection(text: string): SelectorIntersection {
  const pieces = text.split(',');
  if (pieces.some((piece) => piece === '')) throw invalid(text, 'empty part in an intersection');
  return { kind: 'intersection', parts: pieces.map(parseAtom), text };
}

// dbt's RAW_SELECTOR_PATTERN: the lazy body leaves a trailing `+N` to the suffix group.
const ATOM_PATTERN = /^(@)?(?:(\d*)\+)?(.*?)(?:\+(\d*))?$/s;
const METHOD_PATTERN = /^\w+$/;

function parseAtom(text: string): SelectorAtom {
  const match = ATOM_PATTERN.exec(text)!;
  const [, at, parentsDepth, body, childrenDepth] = match;
  if (body === '') throw invalid(text, 'missing a node name or method:value');
  if (body.startsWith('+') || body.startsWith('@') || body.endsWith('+')) {
    throw invalid(text, "graph operators may appear once before and once after the criterion");
  }
  if (at !== undefined && parentsDepth !== undefined) throw invalid(text, "'@' and a '+' prefix are incompatible");
  if (at !== undefined && childrenDepth !== undefined) throw invalid(text, "'@' and a '+' suffix are incompatible");

  const { method, key, value } = parseCriterion(text, body);
  return {
    kind: 'atom',
    method,
    ...(key === undefined ? {} : { key }),
    value,
    parents: depth(parentsDepth),
    children: depth(childrenDepth),
    at: at !== undefined,
    text,
  };
}

function parseCriterion(text: string, body: string): { method: SelectorMethod; key?: string[]; value: string } {
  const colon = body.indexOf(':');
  if (colon < 0) return { method: defaultMethod(body), value: body };

  const [name, ...key] = body.slice(0, colon).split('.');
  const value = body.slice(colon + 1);
  if (name === '') throw invalid(text, "missing a method before ':'");
  if (!isMethod(name)) {
    const hint = METHOD_PATTERN.test(name) ? didYouMean(name, SELECTOR_METHODS) : undefined;
    throw new UsageError(`unknown selector method '${boundText(name)}' in '${boundText(text)}'`, { code: 'selector', hint });
  }
  if (name === 'config') {
    if (key.length === 0 || key.some((part) => part === '')) {
      throw invalid(text, "config needs a key, as in 'config.materialized:table'");
    }
  } else if (key.length > 0) {
    throw invalid(text, `method '${name}' takes no '.${key.join('.')}'`);
  }
  if (value === '') throw invalid(text, `missing a value after '${body.slice(0, colon + 1)}'`);

  switch (name) {
    case 'state':
      oneOf(text, 'state', value, STATE_VALUES);
      break;
    case 'resource_type':
      oneOf(text, 'resource type', value, RESOURCE_TYPE_VALUES);
      break;
    case 'test_type':
      oneOf(text, 'test type', value, TEST_TYPE_VALUES);
      break;
    case 'source':
      if (value.split('.').length > 3 || value.split('.').some((part) => part === '')) {
        throw invalid(text, 'expected source:SOURCE, source:SOURCE.TABLE or source:PACKAGE.SOURCE.TABLE');
      }
      break;
  }
  return name === 'config' ? { method: name, key, value } : { method: name, value };
}

/** dbt's default: a path if it has a folder separator, a file name if it has a known extension. */
function defaultMethod(value: string): SelectorMethod {
  if (value.includes('/')) return 'path';
  if (/\.(sql|csv|py)$/i.test(value)) return 'file';
  return 'fqn';
}

function isMethod(name: string): name is SelectorMethod {
  return (SELECTOR_METHODS as readonly string[]).includes(name);
}

function oneOf(text: string, what: string, value: string, allowed: readonly string[]): void {
  if (!allowed.includes(value)) {
    throw new UsageError(`invalid selector '${boundText(text)}': unknown ${what} '${boundText(value)}'`, {
      code: 'selector',
      hint: didYouMean(value, allowed),
    });
  }
}

function depth(digits: string | undefined): number | undefined {
  if (digits === undefined) return undefined;
  return digits === '' ? Infinity : Number.parseInt(digits, 10);
}

function invalid(text: string, reason: string): UsageError {
  return new UsageError(`invalid selector '${boundText(text)}': ${boundText(reason)}`, { code: 'selector' });
}
