/**
 * The versions and ranges of packages.yml: `1.4.1`, `1.0.0-b1`, and ranges `>=1.0.0`, `<2.0.0`,
 * `>`, `<=`, `=` (or none: an exact version). A `version:` list holds when each element holds.
 */

export interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Dot-separated prerelease identifiers (`b1`, `rc.2`); empty for a release. */
  readonly prerelease: readonly string[];
  readonly text: string;
}

export type Comparator = '>=' | '<=' | '>' | '<' | '=';

export interface Range {
  readonly comparator: Comparator;
  readonly version: Version;
  readonly text: string;
}

const VERSION_PATTERN = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

export function parseVersion(text: string): Version | undefined {
  const m = VERSION_PATTERN.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), prerelease: m[4] ? m[4].split('.') : [], text: text.trim() };
}

export function parseRange(text: string): Range | undefined {
  const m = /^\s*(>=|<=|>|<|=)?\s*(.+)$/.exec(text);
  if (!m) return undefined;
  const version = parseVersion(m[2]);
  if (!version) return undefined;
  return { comparator: (m[1] as Comparator | undefined) ?? '=', version, text: text.trim() };
}

export function isPrerelease(version: Version): boolean {
  return version.prerelease.length > 0;
}

/** Semantic Versioning's precedence: a prerelease sorts before its release; build metadata is ignored. */
export function compareVersions(a: Version, b: Version): number {
  const core = a.major - b.major || a.minor - b.minor || a.patch - b.patch;
  if (core !== 0) return Math.sign(core);
  if (a.prerelease.length === 0 && b.prerelease.length === 0) return 0;
  if (a.prerelease.length === 0) return 1;
  if (b.prerelease.length === 0) return -1;
  for (let i = 0; i < Math.min(a.prerelease.length, b.prerelease.length); i++) {
    const order = compareIdentifiers(a.prerelease[i], b.prerelease[i]);
    if (order !== 0) return order;
  }
  return Math.sign(a.prerelease.length - b.prerelease.length);
}

function compareIdentifiers(a: string, b: string): number {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) return Math.sign(Number(a) - Number(b));
  if (an !== bn) return an ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function satisfies(version: Version, range: Range): boolean {
  const order = compareVersions(version, range.version);
  switch (range.comparator) {
    case '=':
      return order === 0;
    case '>=':
      return order >= 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '<':
      return order < 0;
  }
}

/**
 * The highest of `available` that every range allows. Prereleases are candidates only when
 * `allowPrerelease`, or when a range names that very prerelease exactly (the user asked for it).
 */
export function highestSatisfying(available: readonly Version[], ranges: readonly Range[], allowPrerelease: boolean): Version | undefined {
  const pinned = (v: Version) => ranges.some((r) => r.comparator === '=' && compareVersions(r.version, v) === 0);
  const candidates = available.filter((v) => (allowPrerelease || !isPrerelease(v) || pinned(v)) && ranges.every((r) => satisfies(v, r)));
  return candidates.sort(compareVersions).at(-1);
}
