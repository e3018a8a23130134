import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ProjectError } from '../errors.js';
import { parseYamlFile } from '../util/yaml-file.js';
import type { FetchedPackage } from './fetch-package.js';
import type { PackageSpec } from './package-spec.js';
import { isRecord, readPackageList } from './packages-file.js';

export const LOCK_FILE = 'package-lock.yml';

export interface LockFile {
  /** Every package installed, transitive ones included, each pinned (an exact version, a commit). */
  readonly packages: PackageSpec[];
  /** The hash of the packages file the lock was resolved from. */
  readonly sha1Hash?: string;
}

/** The project's package-lock.yml, or undefined when there is none. */
export function readLockFile(projectDir: string, env: NodeJS.ProcessEnv): LockFile | undefined {
  const path = join(projectDir, LOCK_FILE);
  if (!existsSync(path)) return undefined;
  const yaml = parseYamlFile(readFileSync(path, 'utf8'), LOCK_FILE);
  const { specs } = readPackageList(yaml, { env, allowTemplates: true, topLevelKeys: ['packages', 'sha1_hash'], extraEntryKeys: ['name'] });
  const hash = isRecord(yaml.value) ? yaml.value.sha1_hash : undefined;
  if (hash !== undefined && typeof hash !== 'string') throw new ProjectError('sha1_hash must be a string', { location: yaml.locate(['sha1_hash']) });
  return { packages: specs, sha1Hash: hash };
}

/**
 * Pin what was installed: hub packages at their version, git packages at their commit, local
 * ones by their path as written. Values are written as the packages file wrote them, env_var()
 * calls included, so a token in a git URL stays out of the lock.
 */
export function writeLockFile(projectDir: string, installed: readonly FetchedPackage[], sha1Hash: string): void {
  const entries = installed.map(({ spec, pick, name, commit }) => {
    switch (spec.kind) {
      case 'hub':
        return { name, package: spec.package, version: pick.kind === 'hub' ? pick.release.version.text : spec.version[0] };
      case 'git':
        return { name, git: spec.asWritten.git, revision: commit, ...(spec.subdirectory === undefined ? {} : { subdirectory: spec.asWritten.subdirectory }) };
      case 'local':
        return { name, local: spec.asWritten.local };
    }
  });
  writeFileSync(join(projectDir, LOCK_FILE), stringify({ packages: entries, sha1_hash: sha1Hash }));
}
