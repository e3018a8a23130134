import type { SourceLocation } from '../errors.js';

/**
 * One entry of a `packages:` list, validated. `location` points at the entry in the file that
 * lists it, and `keyLocations` at each of its keys, so a later failure (a revision that does not
 * exist, no version in range) can name the line the user must change.
 */
export type PackageSpec = LocalPackageSpec | GitPackageSpec | HubPackageSpec;

interface SpecBase {
  readonly location: SourceLocation;
  readonly keyLocations: Readonly<Record<string, SourceLocation>>;
  /** The entry as the file wrote it, before env_var() is rendered: package-lock.yml keeps secrets out. */
  readonly asWritten: Readonly<Record<string, unknown>>;
}

export interface LocalPackageSpec extends SpecBase {
  readonly kind: 'local';
  /** As written: relative to the folder of the file that lists it, or absolute. */
  readonly local: string;
}

export interface GitPackageSpec extends SpecBase {
  readonly kind: 'git';
  readonly git: string;
  /** A tag, a branch or a full commit; absent means the remote's default branch (unpinned). */
  readonly revision?: string;
  readonly subdirectory?: string;
  readonly warnUnpinned: boolean;
}

export interface HubPackageSpec extends SpecBase {
  readonly kind: 'hub';
  /** `org/name`, as the hub spells it. */
  readonly package: string;
  /** Each element one range (`>=1.0.0`, `<2.0.0`) or an exact version; all must hold. */
  readonly version: readonly string[];
  readonly installPrerelease: boolean;
}

/** Where a package's files come from, for messages: `hub dbt-labs/dbt_utils`, `git URL`, `local ../x`. */
export function describeSource(spec: PackageSpec): string {
  switch (spec.kind) {
    case 'local':
      return `local ${spec.local}`;
    case 'git':
      return `git ${spec.git}${spec.subdirectory ? ` (subdirectory ${spec.subdirectory})` : ''}`;
    case 'hub':
      return `hub ${spec.package}`;
  }
}
