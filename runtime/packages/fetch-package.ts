import { existsSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { ProjectError } from '../errors.js';
import { fetchGitRevision } from './git-fetch.js';
import type { HubClient, HubRelease } from './hub-client.js';
import { PackageInstallError } from './install-error.js';
import { describeSource, type PackageSpec } from './package-spec.js';
import { projectNameIn } from './package-project.js';
import { readPackagesFile } from './packages-file.js';

// dbt resolves every local: path against the root project, even one a package lists.
const LOCAL_PATHS = 'a local: path is relative to the root project folder, wherever it is written';

/** What one package resolved to: a hub version, a git revision, or (local) the folder itself. */
export type Pick = { readonly kind: 'hub'; readonly release: HubRelease } | { readonly kind: 'git'; readonly revision?: string } | { readonly kind: 'local' };

export interface FetchedPackage {
  readonly spec: PackageSpec;
  readonly pick: Pick;
  /** Absolute folder holding the package's files (a local package's own folder: never moved). */
  readonly dir: string;
  /** The name in its dbt_project.yml: the folder it is installed as. */
  readonly name: string;
  /** git: the commit the revision named. */
  readonly commit?: string;
  /** The packages it lists itself (its packages.yml or dependencies.yml). */
  readonly dependencies: readonly PackageSpec[];
}

export interface FetchContext {
  readonly projectDir: string;
  /** Where packages are installed, relative to the project (`dbt_packages`): messages name their files there. */
  readonly installPath: string;
  /** Scratch space for clones and downloads, on the install folder's file system. */
  readonly workDir: string;
  readonly hub: HubClient;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * The identity of a package across everything that requires it: two specs with one key are one
 * package, and must agree on a version. Local paths are relative to the root project, as in dbt,
 * wherever they are written.
 */
export function packageKey(spec: PackageSpec, projectDir: string): string {
  switch (spec.kind) {
    case 'local':
      return `local:${resolve(projectDir, spec.local)}`;
    case 'git':
      return `git:${spec.git}#${spec.subdirectory ?? ''}`;
    case 'hub':
      return `hub:${spec.package.toLowerCase()}`;
  }
}

export function pickId(pick: Pick): string {
  return pick.kind === 'hub' ? pick.release.version.text : pick.kind === 'git' ? (pick.revision ?? '') : '';
}

/** Bring a package's files here (clone, download, or find the local folder) and read its project. */
export async function fetchPackage(spec: PackageSpec, pick: Pick, context: FetchContext): Promise<FetchedPackage> {
  let dir: string;
  let commit: string | undefined;
  if (spec.kind === 'local') {
    dir = resolve(context.projectDir, spec.local);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new ProjectError(`local package ${spec.local} is not a folder`, { location: spec.keyLocations.local ?? spec.location, hint: LOCAL_PATHS });
    }
  } else if (spec.kind === 'git') {
    const fetched = await fetchGitRevision(spec, pick.kind === 'git' ? pick.revision : undefined, context.workDir, context.projectDir);
    dir = fetched.dir;
    commit = fetched.commit;
  } else {
    if (pick.kind !== 'hub') throw new Error('a hub package is fetched at a hub release');
    dir = await context.hub.download(spec, pick.release, context.workDir);
  }
  const project = projectNameIn(dir);
  if ('problem' in project) {
    throw new PackageInstallError(`${describeSource(spec)}${describePick(pick, commit)} ${project.problem}`, {
      location: spec.location,
      hint: spec.kind === 'local' ? LOCAL_PATHS : undefined,
    });
  }
  const displayDir = spec.kind === 'local' ? relative(context.projectDir, dir) || '.' : `${context.installPath}/${project.name}`;
  const own = readPackagesFile(dir, { env: context.env, displayDir });
  return { spec, pick, dir, name: project.name, commit, dependencies: own?.packages ?? [] };
}

/** ` 1.4.1`, ` at v1.0`, or nothing (local). */
export function describePick(pick: Pick, commit?: string): string {
  if (pick.kind === 'hub') return ` ${pick.release.version.text}`;
  if (pick.kind === 'git') return ` at ${pick.revision ?? (commit ? commit.slice(0, 12) : 'its default branch')}`;
  return '';
}
