import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PackageInstallError } from './install-error.js';
import type { GitPackageSpec } from './package-spec.js';
import { runCommand } from './run-command.js';

export interface FetchedRevision {
  /** The package's files: the checkout, or its subdirectory. */
  readonly dir: string;
  /** The full commit the revision named: what package-lock.yml pins. */
  readonly commit: string;
}

/**
 * Clone `spec.git` into a fresh folder under `workDir` and check out `revision` (a tag, a branch
 * or a commit; none: the remote's default branch), with the `git` program.
 */
export async function fetchGitRevision(spec: GitPackageSpec, revision: string | undefined, workDir: string, projectDir: string): Promise<FetchedRevision> {
  const checkout = mkdtempSync(join(workDir, 'git-'));
  // From the project folder: a relative path to a repository means one beside the project.
  const cloned = await runCommand('git', ['clone', '--quiet', '--no-checkout', '--', spec.git, checkout], projectDir);
  if (!cloned.ok) {
    throw new PackageInstallError(`git clone ${spec.git} failed: ${cloned.message}`, { location: spec.keyLocations.git ?? spec.location });
  }
  const commit = await resolveRevision(checkout, revision);
  if (commit === undefined) {
    throw new PackageInstallError(`revision '${revision}' does not exist in ${spec.git} (no tag, branch or commit of that name)`, {
      location: spec.keyLocations.revision ?? spec.location,
    });
  }
  const checkedOut = await runCommand('git', ['-c', 'advice.detachedHead=false', 'checkout', '--quiet', commit], checkout);
  if (!checkedOut.ok) {
    throw new PackageInstallError(`git checkout ${commit} of ${spec.git} failed: ${checkedOut.message}`, { location: spec.keyLocations.revision ?? spec.location });
  }
  if (spec.subdirectory === undefined) return { dir: checkout, commit };
  const dir = join(checkout, spec.subdirectory);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new PackageInstallError(`subdirectory '${spec.subdirectory}' does not exist in ${spec.git} at ${revision ?? 'its default branch'}`, {
      location: spec.keyLocations.subdirectory ?? spec.location,
    });
  }
  return { dir, commit };
}

/**
 * The commit a revision names. Tags first, then branches (as the remote has them), then a commit
 * id: a tag and a branch of one name mean the tag, as a release pinned by tag should.
 */
async function resolveRevision(checkout: string, revision: string | undefined): Promise<string | undefined> {
  const candidates = revision === undefined ? ['HEAD'] : [`refs/tags/${revision}`, `refs/remotes/origin/${revision}`];
  if (revision !== undefined && /^[0-9a-f]{7,40}$/i.test(revision)) candidates.push(revision);
  for (const candidate of candidates) {
    const found = await runCommand('git', ['rev-parse', '--verify', '--quiet', `${candidate}^{commit}`], checkout);
    if (found.ok) return found.stdout.trim();
  }
  return undefined;
}
