import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseYamlFile } from '../util/yaml-file.js';
import { isRecord } from './packages-file.js';

/** The project files a dbt package or project may have; dbt_project.yml is dbt's, project.yml smelter's. */
const PROJECT_FILES = ['dbt_project.yml', 'project.yml'] as const;

/**
 * The `name:` a project declares in its dbt_project.yml (or project.yml), or a reason it has none.
 * A package is installed under this name and referred to by it, whatever its repository is called.
 */
export function projectNameIn(dir: string, files: readonly string[] = ['dbt_project.yml']): { name: string } | { problem: string } {
  const file = files.find((f) => existsSync(join(dir, f)));
  if (file === undefined) return { problem: `has no ${files.join(' or ')}` };
  const yaml = parseYamlFile(readFileSync(join(dir, file), 'utf8'), file);
  const name = isRecord(yaml.value) ? yaml.value.name : undefined;
  if (typeof name !== 'string' || !/^[A-Za-z_]\w*$/.test(name)) {
    return { problem: `has no valid name: in its ${file} (a letter or underscore, then letters, digits or underscores)` };
  }
  return { name };
}

/** The root project's own name, to refuse a package that would shadow it. */
export function rootProjectName(projectDir: string): string | undefined {
  const found = projectNameIn(projectDir, PROJECT_FILES);
  return 'name' in found ? found.name : undefined;
}
