import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ProjectError } from '../errors.js';
import { parseYamlFile } from '../util/yaml-file.js';
import { isRecord } from './packages-file.js';

export const DEFAULT_INSTALL_PATH = 'dbt_packages';

/**
 * dbt_project.yml's `packages-install-path`, or dbt_packages. Read here on its own: deps must work
 * on a project whose other settings are not yet valid.
 */
export function packagesInstallPath(projectDir: string): string {
  const file = join(projectDir, 'dbt_project.yml');
  if (!existsSync(file)) return DEFAULT_INSTALL_PATH;
  const yaml = parseYamlFile(readFileSync(file, 'utf8'), 'dbt_project.yml');
  const path = isRecord(yaml.value) ? yaml.value['packages-install-path'] : undefined;
  if (path === undefined || path === null) return DEFAULT_INSTALL_PATH;
  if (typeof path !== 'string' || path.trim() === '' || relative(projectDir, resolve(projectDir, path)) === '') {
    throw new ProjectError('packages-install-path must name a folder (default dbt_packages)', { location: yaml.locate(['packages-install-path']) });
  }
  return path.trim();
}
