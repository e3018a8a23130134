import { join } from 'node:path';
import type { LoadedProject } from '../project/load-project.js';
import type { PackageLayout, ProjectConfig } from '../project/project-config.js';
import { readTextFile } from '../util/read-text-file.js';
import { SNAPSHOT_PATHS } from './discover.js';
import { ParseDiagnostics } from './parse-errors.js';

export interface ParseOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Used only by templates that parse must render (run_started_at is not a dependency). */
  readonly now?: Date;
}

/** What every step of parse reads, and where each reports what it finds. */
export interface ParseContext {
  readonly project: LoadedProject;
  readonly config: ProjectConfig;
  readonly env: NodeJS.ProcessEnv;
  /** Undefined: each render that needs the time takes it when it runs. */
  readonly now: Date | undefined;
  /** The root project and its installed packages, read alike; the root comes first. */
  readonly layouts: readonly PackageLayout[];
  /** Where folder config is written, for its errors' locations. */
  readonly projectFile: string;
  readonly diagnostics: ParseDiagnostics;
  readonly broken: BrokenNodes;
}

export function createParseContext(project: LoadedProject, options: ParseOptions): ParseContext {
  const { config } = project;
  return {
    project,
    config,
    env: options.env ?? process.env,
    now: options.now,
    layouts: packageLayouts(config),
    projectFile: config.flavor === 'dbt' ? 'dbt_project.yml' : 'project.yml',
    diagnostics: new ParseDiagnostics(),
    broken: new BrokenNodes(),
  };
}

/** A file of the project by its project-relative path. */
export function readProjectFile(ctx: ParseContext, path: string): string {
  return readTextFile(join(ctx.config.dir, path));
}

/**
 * What failed to parse, and so is reported already: what refers to it gets no error of its own
 * (a config error must not be followed by a false "no model named X" for each dependent).
 */
export class BrokenNodes {
  /** Models and seeds whose file, config or properties could not be read. */
  readonly names = new Set<string>();
  readonly modelProps = new Set<string>();
  readonly seedProps = new Set<string>();
  readonly sources = new Set<string>();
  /** A properties file that could not be read at all may have declared any source. */
  anySource = false;
  /** Nodes with a ref or source dropped because it named something broken. */
  readonly incomplete = new Set<string>();

  isBrokenSource(source: string): boolean {
    return this.anySource || this.sources.has(source);
  }
}

/** Where a package's generic tests may be defined besides its macro paths: `<data-test-path>/generic`. */
export function genericTestRoots(pkg: PackageLayout): string[] {
  return pkg.dataTestPaths.map((p) => `${p.replace(/\/+$/, '')}/generic`);
}

/** The root project as a package (first), then the installed ones. */
function packageLayouts(config: ProjectConfig): PackageLayout[] {
  const empty = { config: {}, folders: {} };
  const root: PackageLayout = {
    name: config.name,
    dir: '',
    modelPaths: config.modelPaths,
    macroPaths: config.macroPaths,
    seedPaths: config.seedPaths,
    dataTestPaths: config.dataTestPaths,
    snapshotPaths: config.snapshotPaths ?? SNAPSHOT_PATHS,
    models: config.models,
    seeds: config.seeds,
    snapshots: config.snapshots ?? empty,
    tests: config.tests ?? empty,
    vars: {},
  };
  return [root, ...config.packages];
}
