/**
 * fnmatch-style wildcards for selector values: `*`, `?`, `[abc]`, `[!abc]`, `[a-z]`, always anchored
 * to the whole string. In `path` mode the wildcards stop at `/` and `**` crosses folders, as in
 * Python's `Path.glob`, which dbt's `path:` method uses.
 */

export interface GlobOptions {
  /** Match file paths: wildcards do not cross `/`; `**` matches any number of folders. */
  readonly path?: boolean;
}

/** True when `pattern` holds a wildcard, so an exact lookup will not do. */
export function hasWildcard(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/** Whether `text` matches `pattern` in full. */
export function globMatch(text: string, pattern: string, options: GlobOptions = {}): boolean {
  return globToRegExp(pattern, options).test(text);
}

const cache = new Map<string, RegExp>();

/** The anchored RegExp for `pattern` (cached: one selector is tested against every node). */
export function globToRegExp(pattern: string, options: GlobOptions = {}): RegExp {
  const key = `${options.path ? 'p' : 'n'}:${pattern}`;
  let re = cache.get(key);
  if (re === undefined) {
    try {
      re = new RegExp(`^${translate(pattern, options.path === true)}$`, 's');
    } catch {
      // Only an out-of-order range (`[z-a]`) gets here; like fnmatch, it matches nothing.
      re = /(?!)/;
    }
    cache.set(key, re);
  }
  return re;
}

function translate(pattern: string, path: boolean): string {
  const any = path ? '[^/]' : '.';
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') {
      if (path && pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          out += '(?:.*/)?';
        } else {
          out += '.*';
        }
      } else {
        out += `${any}*`;
      }
    } else if (c === '?') {
      out += any;
    } else if (c === '[') {
      const end = classEnd(pattern, i);
      if (end < 0) {
        out += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, end);
      let negate = false;
      if (body.startsWith('!')) {
        negate = true;
        body = body.slice(1);
      }
      const chars = body.replace(/[\\\]^[]/g, '\\$&');
      out += `[${negate ? '^' : ''}${negate && path ? '/' : ''}${chars}]`;
      i = end;
    } else {
      out += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return out;
}

/** Index of the `]` closing the class opened at `start`, or -1 (then `[` is a literal, as in fnmatch). */
function classEnd(pattern: string, start: number): number {
  let j = start + 1;
  if (pattern[j] === '!') j++;
  // A `]` right after `[` or `[!` is a member, not the end.
  if (pattern[j] === ']') j++;
  return pattern.indexOf(']', j);
}
