import { randomUUID } from 'node:crypto';
import { UsageError } from './errors.js';
import { databaseOn } from './execute/database-access.js';
import { hookScope } from './execute/hooks.js';
import { nodeError } from './execute/node-results.js';
import { inTransaction } from './execute/transaction.js';
import { openProject, openTargetDatabase, type InvocationOptions } from './invocation.js';
import { templateLiteral } from './parse/naming-macros.js';
import { didYouMean } from './util/did-you-mean.js';

export interface OperationOptions extends InvocationOptions {
  /** `name` (the root project's, or dbt's built-in) or `package.name`. */
  readonly macro: string;
  /** Keyword arguments (`--args`). */
  readonly args?: Readonly<Record<string, unknown>>;
}

/** The statements the macro ran, in order. */
export interface OperationOutcome {
  readonly executed: readonly string[];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `smelter run-operation` (dbt's): call a macro with keyword arguments on the target's database,
 * for what a project does outside its models (grants, clean-ups, loading external tables). Its
 * queries (`run_query`, `statement`) run in one transaction, committed when the macro returns and
 * rolled back if it fails, as dbt commits a run-operation at its end. What it renders is discarded;
 * what it logs is printed.
 */
export async function runOperation(options: OperationOptions): Promise<OperationOutcome> {
  const p = openProject(options);
  const [pkg, name] = options.macro.includes('.') ? options.macro.split('.', 2) : [undefined, options.macro];
  if (!IDENTIFIER.test(name) || (pkg !== undefined && !IDENTIFIER.test(pkg))) throw new UsageError(`run-operation needs a macro name (name or package.name), got '${options.macro}'`);
  const templates = p.parsed.templates();
  const known = pkg === undefined ? templates.hasMacro(name) || templates.hasMacro(name, 'dbt') : templates.hasMacro(name, pkg);
  if (!known) {
    const names = Object.values(p.manifest.macros).map((m) => (m.package_name === p.manifest.project_name ? m.name : `${m.package_name}.${m.name}`));
    throw new UsageError(`no macro named '${options.macro}' in the project or its packages`, { hint: didYouMean(options.macro, names) ?? 'macros are in the macro paths (macros/) and installed packages' });
  }
  const args = Object.entries(options.args ?? {}).map(([key, value]) => {
    if (!IDENTIFIER.test(key)) throw new UsageError(`--args: '${key}' is not an argument name`);
    return `${key}=${templateLiteral(value)}`;
  });
  const call = `{% do ${options.macro}(${args.join(', ')}) %}`;
  const renv = {
    manifest: p.manifest,
    project: p.project,
    templates: p.parsed.templates,
    env: options.env ?? process.env,
    runStartedAt: new Date(),
    invocationId: randomUUID(),
    flags: { which: 'run-operation' as const },
  };
  const engine = await openTargetDatabase(p.project.config.target);
  const connection = await engine.connect();
  const database = databaseOn(connection);
  const signal = new AbortController().signal;
  try {
    await inTransaction(connection, signal, () => database.render(options.macro, () => templates.render('run-operation', call, hookScope({ ...renv, database })), signal));
  } catch (error) {
    throw nodeError(error, { unique_id: `operation.${p.manifest.project_name}.${name}`, original_file_path: 'run-operation' }, signal);
  } finally {
    connection.close();
    engine.close();
  }
  return { executed: database.executed };
}
