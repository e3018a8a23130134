import { existsSync, rmSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ProjectError } from '../errors.js';
import { loadProject } from '../project/load-project.js';

export interface CleanOptions {
  readonly projectDir: string;
  readonly profilesDir?: string;
  readonly target?: string;
}

export interface CleanOutcome {
  /** Each clean target, relative to the project, and whether it existed (and is now gone). */
  readonly cleaned: ReadonlyArray<{ readonly path: string; readonly existed: boolean }>;
}

/**
 * `smelter clean` (dbt's `clean`): delete the folders dbt_project.yml's `clean-targets` lists, or
 * the target path. Every one is checked before any is deleted: a path outside the project, or the
 * project itself, is refused, so a typo cannot delete what the user wrote. State in DynamoDB and
 * files in S3 are not touched; a local target's database file goes with target/, as in dbt.
 */
export function cleanProject(options: CleanOptions): CleanOutcome {
  const { config } = loadProject(options.projectDir, { target: options.target, profilesDir: options.profilesDir });
  const file = config.flavor === 'dbt' ? 'dbt_project.yml' : 'project.yml';
  const paths = (config.cleanTargets ?? [config.targetPath]).map((path) => {
    const absolute = resolve(config.dir, path);
    const inside = relative(config.dir, absolute);
    if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
      throw new ProjectError(`clean-targets: '${path}' is not a folder inside the project; nothing was deleted`, {
        code: 'config',
        location: { file },
        hint: 'list folders the project makes, such as target and dbt_packages',
      });
    }
    return { absolute, path: inside.split(sep).join('/') };
  });
  return {
    cleaned: paths.map(({ absolute, path }) => {
      const existed = existsSync(absolute);
      rmSync(absolute, { recursive: true, force: true });
      return { path, existed };
    }),
  };
}
