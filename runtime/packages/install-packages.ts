import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ProjectError } from '../errors.js';
import type { FetchContext, FetchedPackage } from './fetch-package.js';
import { removeLeftovers, replaceFolder, siblingFolder } from './folder-swap.js';
import { HubClient } from './hub-client.js';
import { PackageInstallError } from './install-error.js';
import { LOCK_FILE, readLockFile, writeLockFile } from './lock-file.js';
import { describeSource, type PackageSpec } from './package-spec.js';
import { describeInstalled, type InstalledPackage } from './installed-package.js';
import { rootProjectName } from './package-project.js';
import { readPackagesFile } from './packages-file.js';
import { packagesInstallPath } from './install-path.js';
import { resolvePackages } from './resolve-packages.js';

export interface InstallOptions {
  readonly projectDir: string;
  /** Resolve again from the packages file even when package-lock.yml matches it (dbt's --upgrade). */
  readonly upgrade?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly onWarning?: (message: string) => void;
}

export interface InstallOutcome {
  /** The packages file read; undefined when the project has none (nothing was done). */
  readonly packagesFile?: string;
  /** Relative to the project: `dbt_packages`. */
  readonly installPath: string;
  readonly installed: readonly InstalledPackage[];
  /** The versions came from package-lock.yml (it matched the packages file). */
  readonly fromLock: boolean;
  readonly lockFile: string;
}

/**
 * `smelter deps`: resolve the packages the project lists (from package-lock.yml while it matches
 * the packages file), fetch them into a staging folder, and only when every one is there, put that
 * folder in place of dbt_packages/ and write package-lock.yml.
 */
export async function installPackages(options: InstallOptions): Promise<InstallOutcome> {
  const projectDir = resolve(options.projectDir);
  if (!existsSync(projectDir) || !statSync(projectDir).isDirectory()) throw new ProjectError(`no project folder ${options.projectDir}`);
  const env = options.env ?? process.env;
  const installPath = packagesInstallPath(projectDir);
  const listed = readPackagesFile(projectDir, { env });
  if (listed === undefined) return { installPath, installed: [], fromLock: false, lockFile: LOCK_FILE };
  const lock = options.upgrade ? undefined : readLockFile(projectDir, env);
  const fromLock = lock !== undefined && lock.sha1Hash === listed.sha1Hash;
  for (const spec of fromLock ? lock.packages : listed.packages) {
    if (spec.kind === 'git' && spec.revision === undefined && spec.warnUnpinned) {
      options.onWarning?.(`${describeSource(spec)} is not pinned to a revision: its default branch is installed (add revision:, or warn-unpinned: false)`);
    }
  }
  const installDir = resolve(projectDir, installPath);
  mkdirSync(resolve(installDir, '..'), { recursive: true });
  removeLeftovers(installDir);
  const workDir = siblingFolder(installDir, 'work');
  let staging: string | undefined = siblingFolder(installDir, 'staging');
  try {
    const context: FetchContext = { projectDir, installPath, workDir, hub: new HubClient(env), env };
    const packages = await resolvePackages(fromLock ? lock.packages : listed.packages, context, !fromLock);
    refuseNameClashes(packages, rootProjectName(projectDir));
    for (const pkg of packages) placePackage(pkg, join(staging, pkg.name), installDir);
    chmodSync(staging, 0o755);
    replaceFolder(installDir, staging);
    staging = undefined;
    if (!fromLock) writeLockFile(projectDir, packages, listed.sha1Hash);
    return { packagesFile: listed.file, installPath, installed: packages.map(describeInstalled), fromLock, lockFile: LOCK_FILE };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
    if (staging !== undefined) rmSync(staging, { recursive: true, force: true });
  }
}

function refuseNameClashes(packages: readonly FetchedPackage[], rootName: string | undefined): void {
  const byName = new Map<string, FetchedPackage>();
  for (const pkg of packages) {
    if (pkg.name === rootName) {
      throw new PackageInstallError(`${describeSource(pkg.spec)} is named ${pkg.name}, as this project is: a package needs a name of its own`, {
        location: pkg.spec.location,
      });
    }
    const earlier = byName.get(pkg.name);
    if (earlier !== undefined) {
      throw new PackageInstallError(
        `two packages are named ${pkg.name}: ${describeSource(earlier.spec)} (${formatLine(earlier.spec)}) and ${describeSource(pkg.spec)} (${formatLine(pkg.spec)})`,
        { location: pkg.spec.location },
      );
    }
    byName.set(pkg.name, pkg);
  }
}

function formatLine(spec: PackageSpec): string {
  return `${spec.location.file}:${spec.location.line}`;
}

/**
 * A local package is a symlink to its folder, as dbt makes it, relative so that moving the
 * project with its packages keeps it valid (the staging folder sits beside the install folder, so
 * the link is right after the rename too). Fetched ones are moved in without their .git.
 */
function placePackage(pkg: FetchedPackage, at: string, installDir: string): void {
  if (pkg.spec.kind === 'local') {
    symlinkSync(relative(installDir, pkg.dir) || '.', at, 'dir');
    return;
  }
  rmSync(join(pkg.dir, '.git'), { recursive: true, force: true });
  renameSync(pkg.dir, at);
}
