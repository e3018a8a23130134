import type { FetchedPackage } from './fetch-package.js';
import { describeSource, type PackageSpec } from './package-spec.js';

export interface InstalledPackage {
  readonly name: string;
  readonly kind: PackageSpec['kind'];
  /** `hub dbt-labs/dbt_utils`, `git URL`, `local ../x`. */
  readonly source: string;
  /** hub: the version; git: the revision as written (absent: the default branch). */
  readonly version?: string;
  /** git: the commit installed. */
  readonly commit?: string;
}

export function describeInstalled(pkg: FetchedPackage): InstalledPackage {
  const version = pkg.pick.kind === 'hub' ? pkg.pick.release.version.text : pkg.pick.kind === 'git' ? pkg.pick.revision : undefined;
  return { name: pkg.name, kind: pkg.spec.kind, source: describeSource(pkg.spec), version, commit: pkg.commit };
}

/** The line `smelter deps` prints for a package: `Installed dbt_utils 1.4.1 (hub dbt-labs/dbt_utils)`. */
export function installedLine(pkg: InstalledPackage): string {
  if (pkg.kind === 'git') {
    const commit = pkg.commit?.slice(0, 12);
    // A revision that is the commit itself (as package-lock.yml pins it) is shown once, short.
    if (pkg.version !== undefined && pkg.version.toLowerCase() === pkg.commit?.toLowerCase()) return `Installed ${pkg.name} ${commit} (${pkg.source})`;
    return `Installed ${pkg.name} ${pkg.version ?? 'default branch'} (${pkg.source}, commit ${commit})`;
  }
  return `Installed ${pkg.name}${pkg.version ? ` ${pkg.version}` : ''} (${pkg.source})`;
}
