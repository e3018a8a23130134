import { formatLocation } from '../errors.js';
import { fetchPackage, packageKey, pickId, type FetchContext, type FetchedPackage, type Pick } from './fetch-package.js';
import { PackageInstallError } from './install-error.js';
import type { GitPackageSpec, HubPackageSpec, PackageSpec } from './package-spec.js';
import { compareVersions, highestSatisfying, parseRange, type Range } from './semver.js';

/** A package listed somewhere: by the root project or by a package it installs. */
interface Requirement {
  readonly key: string;
  readonly spec: PackageSpec;
}

/** `packages.yml:4`: the place a requirement is written, for messages that name two of them. */
function requirer(spec: PackageSpec): string {
  return formatLocation({ file: spec.location.file, line: spec.location.line });
}

/**
 * Every package to install: the root's, and (with `followDependencies`) the packages those list,
 * transitively. A hub package required several times gets the highest version every requirement
 * allows; a git package must be required at one revision. The graph depends on the versions
 * picked (another version lists other packages), so resolution repeats until the picks hold
 * still; fetches are cached, so a repeat costs little.
 */
export async function resolvePackages(rootSpecs: readonly PackageSpec[], context: FetchContext, followDependencies: boolean): Promise<FetchedPackage[]> {
  const fetches = new Map<string, Promise<FetchedPackage>>();
  const fetchOnce = (key: string, spec: PackageSpec, pick: Pick) => {
    const id = `${key}@${pickId(pick)}`;
    let found = fetches.get(id);
    if (!found) {
      found = fetchPackage(spec, pick, context);
      fetches.set(id, found);
    }
    return found;
  };
  let settled = new Map<string, Pick>();
  for (let round = 0; round < 20; round++) {
    const requirements = new Map<string, Requirement[]>();
    const fetched = new Map<string, FetchedPackage>();
    const queue: Requirement[] = rootSpecs.map((spec) => ({ key: packageKey(spec, context.projectDir), spec }));
    while (queue.length > 0) {
      const requirement = queue.shift()!;
      const all = requirements.get(requirement.key) ?? [];
      all.push(requirement);
      requirements.set(requirement.key, all);
      if (fetched.has(requirement.key)) continue;
      const pick = settled.get(requirement.key) ?? (await choose(all, context));
      const pkg = await fetchOnce(requirement.key, all[0].spec, pick);
      fetched.set(requirement.key, pkg);
      if (followDependencies) queue.push(...pkg.dependencies.map((spec) => ({ key: packageKey(spec, context.projectDir), spec })));
    }
    const picks = new Map<string, Pick>();
    for (const [key, all] of requirements) picks.set(key, await choose(all, context));
    const stable = [...picks].every(([key, pick]) => pickId(pick) === pickId(fetched.get(key)!.pick));
    if (stable) return [...fetched.values()];
    settled = picks;
  }
  throw new PackageInstallError('package versions did not settle after 20 rounds of resolution (packages that require each other at changing versions)', {
    location: rootSpecs[0]?.location,
  });
}

/** The version or revision every requirement of one package agrees on. */
async function choose(requirements: readonly Requirement[], context: FetchContext): Promise<Pick> {
  const first = requirements[0].spec;
  if (first.kind === 'local') return { kind: 'local' };
  if (first.kind === 'git') return chooseRevision(requirements.map((r) => r.spec as GitPackageSpec));
  return chooseRelease(requirements.map((r) => r.spec as HubPackageSpec), context);
}

function chooseRevision(specs: readonly GitPackageSpec[]): Pick {
  const other = specs.find((s) => s.revision !== specs[0].revision);
  if (other !== undefined) {
    const describe = (s: GitPackageSpec) => `${requirer(s)} wants ${s.revision ?? 'its default branch'}`;
    throw new PackageInstallError(`conflicting revisions of git package ${specs[0].git}: ${describe(specs[0])}, ${describe(other)}`, {
      location: specs[0].keyLocations.revision ?? specs[0].location,
    });
  }
  return { kind: 'git', revision: specs[0].revision };
}

async function chooseRelease(specs: readonly HubPackageSpec[], context: FetchContext): Promise<Pick> {
  const releases = await context.hub.releasesOf(specs[0]);
  const rangesOf = (s: HubPackageSpec) => s.version.map((text) => parseRange(text)!);
  const allowPrerelease = specs.some((s) => s.installPrerelease);
  const pickFor = (ranges: readonly Range[]) => {
    const version = highestSatisfying(
      releases.map((r) => r.version),
      ranges,
      allowPrerelease,
    );
    return releases.find((r) => r.version === version);
  };
  const release = pickFor(specs.flatMap(rangesOf));
  if (release) return { kind: 'hub', release };
  const wants = (s: HubPackageSpec) => s.version.join(', ');
  const unsatisfiable = specs.find((s) => pickFor(rangesOf(s)) === undefined);
  if (unsatisfiable !== undefined) {
    const listed = [...releases].sort((a, b) => compareVersions(a.version, b.version)).map((r) => r.version.text);
    const shown = listed.length > 10 ? ['...', ...listed.slice(-10)] : listed;
    const prereleaseNote = allowPrerelease ? '' : '; prereleases only with install-prerelease: true';
    throw new PackageInstallError(
      `no version of ${unsatisfiable.package} matches ${wants(unsatisfiable)} (the hub lists ${shown.join(', ') || 'none'}${prereleaseNote})`,
      { location: unsatisfiable.keyLocations.version ?? unsatisfiable.location },
    );
  }
  // Each requirement alone can be met, not all of them at once: name two that disagree.
  const other = specs.slice(1).find((s) => pickFor([...rangesOf(specs[0]), ...rangesOf(s)]) === undefined) ?? specs[1];
  throw new PackageInstallError(
    `conflicting versions of ${specs[0].package}: ${requirer(specs[0])} wants ${wants(specs[0])}, ${requirer(other)} wants ${wants(other)}; no version satisfies both`,
    { location: specs[0].keyLocations.version ?? specs[0].location },
  );
}
