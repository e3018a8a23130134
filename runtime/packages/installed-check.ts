import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProjectError } from '../errors.js';
import { parseYamlFile } from '../util/yaml-file.js';
import { packagesInstallPath } from './install-path.js';
import { LOCK_FILE } from './lock-file.js';
import { isRecord, readPackagesFile } from './packages-file.js';

/**
 * Before a run: are the packages the project lists installed? A name is known only once a package
 * is fetched (it is the `name:` in the package's dbt_project.yml), so the names come from
 * package-lock.yml, which `deps` writes with every package it installed, transitive ones too.
 * Returns the error a run should stop with, or undefined when nothing is missing (or the project
 * lists no packages). Reads files only; never the network.
 */
export function findMissingPackages(projectDir: string, installPath = packagesInstallPath(projectDir)): ProjectError | undefined {
  const listed = readPackagesFile(projectDir, { renderEnvVars: false });
  if (listed === undefined || listed.packages.length === 0) return undefined;
  const installDir = join(projectDir, installPath);
  if (!existsSync(installDir)) {
    const n = listed.packages.length;
    return new ProjectError(`${n === 1 ? 'a package is' : `${n} packages are`} listed but ${installPath}/ is missing: run smelter deps`, {
      location: { file: listed.file },
    });
  }
  const lockPath = join(projectDir, LOCK_FILE);
  if (!existsSync(lockPath)) return undefined;
  const lock = parseYamlFile(readFileSync(lockPath, 'utf8'), LOCK_FILE);
  const entries = isRecord(lock.value) && Array.isArray(lock.value.packages) ? lock.value.packages : [];
  for (const [i, entry] of entries.entries()) {
    const name = isRecord(entry) ? entry.name : undefined;
    if (typeof name === 'string' && !existsSync(join(installDir, name, 'dbt_project.yml'))) {
      return new ProjectError(`${name} is in ${LOCK_FILE} but ${installPath}/${name} is missing: run smelter deps`, {
        location: lock.locate(['packages', i]),
      });
    }
  }
  return undefined;
}
