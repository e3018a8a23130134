import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { SmelterError } from './errors.js';
import { openProject, openTargetDatabase, type InvocationOptions } from './invocation.js';
import { loadProject } from './project/load-project.js';

/** One line of `smelter debug`: what was looked at, and whether it holds. */
export interface DebugCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * `smelter debug` (dbt's): the project file and profile load, the project parses, and the target's
 * database opens with its settings. Changes nothing: a database file no run has created is not
 * created (the settings are tried on an in-memory database instead). S3 storage and DynamoDB state
 * are reported as configured, not contacted.
 */
export async function debugProject(options: InvocationOptions): Promise<readonly DebugCheck[]> {
  const checks: DebugCheck[] = [];
  const failed = (name: string, error: unknown) => checks.push({ name, ok: false, detail: error instanceof SmelterError ? error.format() : String((error as Error)?.message ?? error) });
  let project: ReturnType<typeof loadProject>;
  try {
    project = loadProject(options.projectDir, { target: options.target, vars: options.vars, profilesDir: options.profilesDir, env: options.env });
  } catch (error) {
    failed('project', error);
    return checks;
  }
  const { config } = project;
  const target = config.target;
  checks.push({ name: 'project', ok: true, detail: `${config.flavor === 'dbt' ? 'dbt_project.yml' : 'project.yml'}: ${config.name}, target ${target.name}${target.profileName ? ` (profile ${target.profileName})` : ''}` });
  try {
    const p = openProject(options);
    const counts = new Map<string, number>();
    for (const node of Object.values(p.manifest.nodes)) counts.set(node.resource_type, (counts.get(node.resource_type) ?? 0) + 1);
    const plural = (type: string, n: number) => (n === 1 ? type : type === 'analysis' ? 'analyses' : `${type}s`);
    checks.push({ name: 'parse', ok: true, detail: [...counts].map(([type, n]) => `${n} ${plural(type, n)}`).join(', ') || 'no nodes' });
  } catch (error) {
    failed('parse', error);
  }
  const fileExists = target.databasePath !== ':memory:' && existsSync(target.databasePath);
  try {
    const engine = await openTargetDatabase(fileExists ? target : { ...target, databasePath: ':memory:' });
    try {
      const connection = await engine.connect();
      const [{ version }] = await connection.query('SELECT version() AS version');
      connection.close();
      const where = target.databasePath === ':memory:' ? 'in memory' : fileExists ? relative(config.dir, target.databasePath) : `${relative(config.dir, target.databasePath)} (not created yet: the first run creates it; its settings were tried in memory)`;
      checks.push({ name: 'database', ok: true, detail: `DuckDB ${String(version)}, ${where}` });
    } finally {
      engine.close();
    }
  } catch (error) {
    failed('database', error);
  }
  checks.push({ name: 'storage', ok: true, detail: target.storage === undefined ? 'none (external models are not available)' : `${target.storage}${target.storage.startsWith('s3://') ? ' (not contacted)' : ''}` });
  const { state } = target;
  checks.push({ name: 'state', ok: true, detail: state.backend === 'dynamodb' ? `dynamodb table ${state.table} (not contacted)` : 'local (a table in the database)' });
  return checks;
}
