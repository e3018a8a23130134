/**
 * The commands behind `smelter`: loaded only once the arguments name one, so `--help`, `--version`
 * and a usage error never load the runtime, DuckDB's binding or the AWS SDK.
 */
import {
  listNodes,
  parseToManifest,
  cleanProject,
  compileProject,
  previewProject,
  runOperation,
  sourceFreshness,
  planRetry,
  runRetry,
  debugProject,
  initProject,
  type RunOutcome,
  type Preview,
  runProject,
  openProject,
  selectFrom,
  showState,
  resetState,
  verifyState,
  adoptState,
  installPackages,
  installedLine,
  isLeaseHeld,
  loadProject,
  UsageError,
  type ManifestNode,
  type InvocationOptions,
  type BuildCommand,
  type StateRecord,
} from '../../runtime/index.js';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CliArgs } from './args.js';
import { printError } from './print-error.js';
// Not through runtime/index.ts: the docs site reads its assets beside the module, which the Lambda bundle has not.
import { generateDocs } from '../../runtime/docs/generate-docs.js';
import { serveDocs } from '../../runtime/docs/serve-docs.js';
import { stateMachineFor } from '../stepfunctions/state-machine.js';
import { createRunReporter, jsonLine, type Output } from './reporter.js';
import { awsBackends } from '../aws/backends.js';

export async function runCommand(args: CliArgs, output: Output): Promise<number> {
  const options: InvocationOptions = {
    projectDir: args.projectDir,
    profilesDir: args.profilesDir,
    target: args.target,
    vars: args.vars,
    select: args.select,
    exclude: args.exclude,
    indirectSelection: args.indirectSelection,
    threads: args.threads,
    failFast: args.failFast,
    stateDir: args.state,
    fullRefresh: args.fullRefresh,
    force: args.force,
    eventTimeStart: args.eventTimeStart,
    eventTimeEnd: args.eventTimeEnd,
    backends: awsBackends,
    onWarning: (w) => {
      // ls prints data on stdout: its warnings stay on stderr even in JSON mode.
      if (args.logFormat === 'json' && args.command !== 'ls') output.out(jsonLine({ level: 'warn', event: 'warning', message: w }));
      else output.err(`warning: ${w}`);
    },
  };
  switch (args.command!) {
    case 'deps': {
      const say = (event: string, message: string) => output.out(args.logFormat === 'json' ? jsonLine({ level: 'info', event, message }) : message);
      const outcome = await installPackages({ projectDir: args.projectDir, upgrade: args.upgrade, onWarning: options.onWarning });
      if (outcome.packagesFile === undefined) {
        say('deps_finish', 'No packages.yml or dependencies.yml: no packages to install');
        return 0;
      }
      if (outcome.fromLock) say('deps_lock', `Installing the versions pinned in ${outcome.lockFile} (it matches ${outcome.packagesFile})`);
      for (const pkg of outcome.installed) say('package_installed', installedLine(pkg));
      const n = outcome.installed.length;
      say('deps_finish', `Installed ${n} package${n === 1 ? '' : 's'} into ${outcome.installPath}/${outcome.fromLock ? '' : `; wrote ${outcome.lockFile}`}`);
      return 0;
    }
    case 'ls': {
      const { nodes } = listNodes(options);
      // One write: ten thousand small writes to a pipe cost more than listing the project.
      if (nodes.length > 0) output.out(nodes.map((node) => formatListed(node, args.output)).join('\n'));
      return 0;
    }
    case 'parse': {
      const { manifest, path } = parseToManifest(options);
      const n = Object.keys(manifest.nodes).length;
      output.out(args.logFormat === 'json' ? jsonLine({ level: 'info', event: 'parse_finish', message: `${n} nodes; wrote ${path}` }) : `Parsed ${n} node${n === 1 ? '' : 's'}; wrote ${path}`);
      return 0;
    }
    case 'clean': {
      const { cleaned } = cleanProject({ projectDir: args.projectDir, profilesDir: args.profilesDir, target: args.target });
      for (const c of cleaned) output.out(c.existed ? `Cleaned ${c.path}/` : `${c.path}/ does not exist: nothing to clean`);
      return 0;
    }
    case 'source': {
      const { results, path } = await sourceFreshness(options);
      const total = results.length;
      results.forEach((r, i) => {
        const label = r.status === 'runtime error' ? 'ERROR' : r.status.toUpperCase();
        const detail = r.message ?? `newest ${r.max_loaded_at}, ${formatAge(r.max_loaded_at_time_ago_in_s!)} ago`;
        if (args.logFormat === 'json') output.out(jsonLine({ level: r.status === 'pass' ? 'info' : r.status === 'warn' ? 'warn' : 'error', event: 'freshness', message: `${r.name}: ${r.status}`, ...r }));
        else output.out(`${i + 1} of ${total} ${label} freshness of ${r.name}: ${detail} [${label} in ${r.execution_time.toFixed(2)}s]`);
      });
      if (args.logFormat !== 'json') output.out(total === 0 ? 'No selected source has freshness criteria' : `Wrote ${path}`);
      return results.some((r) => r.status === 'error' || r.status === 'runtime error') ? 1 : 0;
    }
    case 'run-operation': {
      const { executed } = await runOperation({ ...options, macro: args.macro!, args: args.macroArgs });
      if (args.logFormat === 'json') output.out(jsonLine({ level: 'info', event: 'operation_finish', message: `${args.macro}: ${executed.length} statements, committed` }));
      return 0;
    }
    case 'show': {
      const outcome = await previewProject({ ...options, limit: args.limit, inline: args.inline });
      for (const e of outcome.errors) printError(e, output, args);
      if (outcome.previews.length > 0) output.out(outcome.previews.map((p) => formatPreview(p, args.output === 'json')).join('\n\n'));
      return outcome.errors.length > 0 ? 1 : 0;
    }
    case 'compile': {
      const outcome = await compileProject(options);
      for (const e of outcome.errors) printError(e, output, args);
      const n = outcome.compiled.length;
      const analyses = outcome.compiled.filter((c) => c.unique_id.startsWith('analysis.')).length;
      const models = n - analyses;
      if (args.logFormat === 'json') {
        output.out(jsonLine({ level: outcome.errors.length ? 'error' : 'info', event: 'compile_finish', message: `${n} compiled, ${outcome.errors.length} failed` }));
      } else {
        const what = `${models} model${models === 1 ? '' : 's'}${analyses > 0 ? ` and ${analyses} analys${analyses === 1 ? 'is' : 'es'}` : ''}`;
        output.out(`Compiled ${what} to ${outcome.outputDir}/${outcome.errors.length ? `; ${outcome.errors.length} failed` : ''}`);
      }
      return outcome.errors.length > 0 ? 2 : 0;
    }
    case 'stepfunctions': {
      // The selection as `build` would run it, tests included; the generator puts each test in
      // the invocation that builds the last of its parents.
      // The definition holds no environment value, yet the target renders env_var() (the Lambda's
      // S3_BUCKET_NAME, ...): a variable that is not set reads as a placeholder, so a deploy
      // pipeline can print the definition without the function's environment.
      const env = new Proxy(process.env, { get: (vars, name) => (typeof name === 'string' ? (vars[name] ?? `\${${name}}`) : undefined) });
      // Its --vars go into every event: checked as an event's are, so the machine is not refused at run time.
      const p = openProject({ ...options, env, from: 'event' });
      const { nodes } = selectFrom(p, options, ['model', 'test', 'unit_test']);
      const definition = stateMachineFor(p.manifest, p.dag, new Set(nodes.map((n) => n.unique_id)), {
        functionArn: args.functionArn!,
        granularity: args.granularity,
        command: 'build',
        target: args.target,
        vars: args.vars,
        fullRefresh: args.fullRefresh,
        eventTimeStart: args.eventTimeStart,
        eventTimeEnd: args.eventTimeEnd,
        maxConcurrency: args.maxConcurrency,
        leaseSeconds: p.project.config.target.state.lease_seconds,
      });
      output.out(JSON.stringify(definition, null, 2));
      return 0;
    }
    case 'docs': {
      if (args.subcommand === 'serve') {
        const targetPath = loadProject(args.projectDir, { target: args.target, profilesDir: args.profilesDir }).config.targetPath;
        const targetDir = join(resolve(args.projectDir), targetPath);
        if (!existsSync(join(targetDir, 'index.html'))) throw new UsageError(`${targetPath}/index.html does not exist yet`, { hint: 'run smelter docs generate first' });
        const { server, url } = await serveDocs(targetDir, args.port);
        output.out(`Serving ${targetPath}/ at ${url} (Ctrl-C to stop)`);
        await new Promise<void>((done) => process.once('SIGINT', () => server.close(() => done())));
        return 0;
      }
      const outcome = await generateDocs(options);
      for (const w of outcome.warnings) options.onWarning!(w);
      for (const e of outcome.problems) printError(e, output, args);
      const catalogued = Object.keys(outcome.catalog.nodes).length + Object.keys(outcome.catalog.sources).length;
      output.out(`Wrote ${outcome.targetPath}/manifest.json, ${outcome.targetPath}/catalog.json (${catalogued} relation${catalogued === 1 ? '' : 's'}) and the docs site ${outcome.targetPath}/index.html`);
      return outcome.problems.length > 0 ? 2 : 0;
    }
    case 'state': {
      if (args.subcommand === 'verify') {
        const verified = await verifyState(options);
        if (args.output === 'json') output.out(JSON.stringify(verified, null, 2));
        else if (verified.length === 0) output.out('No incremental, scd2 or external models selected');
        else for (const v of verified) output.out(`${VERIFY_LABEL[v.status]} ${v.table_name}: ${v.detail}${v.hint ? ` (${v.hint})` : ''}`);
        const problems = verified.filter((v) => v.status === 'problem').length;
        if (args.output !== 'json') output.out(problems === 0 ? `Verified ${verified.length} models: state and data agree` : `${problems} of ${verified.length} models: state and data disagree`);
        return problems === 0 ? 0 : 1;
      }
      if (args.subcommand === 'adopt') {
        await adoptState(options, (a) => output.out(`Adopted ${a.table_name}: ${a.detail}`));
        return 0;
      }
      if (args.subcommand === 'reset') {
        const { reset, kept } = await resetState(options);
        if (kept.length > 0) {
          output.err(`warning: kept the state of ${kept.join(', ')} (scd2: a rebuild loses history the source no longer holds); add --force to reset ${kept.length === 1 ? 'it' : 'them'} too`);
        }
        output.out(reset.length === 0 ? 'No state to reset for the selected models' : `Reset the state of ${reset.join(', ')}: the next run rebuilds ${reset.length === 1 ? 'it' : 'them'}`);
        return 0;
      }
      const records = await showState(options);
      if (args.output === 'json') output.out(JSON.stringify(records, null, 2));
      else if (records.length === 0) output.out('No committed state');
      else output.out(formatStateTable(records));
      return 0;
    }
    case 'init': {
      const { files } = initProject(args.projectName!, process.cwd());
      output.out(`Created ${args.projectName}/ with ${files.filter((f) => !f.endsWith('.gitkeep')).join(', ')}`);
      output.out(`Next: cd ${args.projectName} && smelter build`);
      return 0;
    }
    case 'debug': {
      const checks = await debugProject(options);
      const width = Math.max(...checks.map((c) => c.name.length));
      for (const c of checks) output.out(`${c.name.padEnd(width)}  ${c.ok ? 'OK' : 'ERROR'}  ${c.detail}`);
      const bad = checks.filter((c) => !c.ok).length;
      output.out(bad === 0 ? 'All checks passed' : `${bad} check${bad === 1 ? '' : 's'} failed`);
      return bad === 0 ? 0 : 1;
    }
    case 'retry': {
      const plan = planRetry(options);
      if (plan.nodes.length === 0) {
        output.out(`Nothing to retry: the last ${plan.command} left no node failed or skipped`);
        return 0;
      }
      output.out(`Retrying ${plan.nodes.length} node${plan.nodes.length === 1 ? '' : 's'} the last ${plan.command} left failed or skipped`);
      return runWithReporter(plan.command, args, output, (invocation) => runRetry(plan, invocation), options);
    }
    case 'test':
    case 'build':
    case 'run':
    case 'snapshot':
    case 'seed': {
      const command = args.command as BuildCommand;
      return runWithReporter(command, args, output, (invocation) => runProject(command, invocation), options);
    }
  }
}

/**
 * A run on the command line: progress lines (or JSON) as nodes finish, Ctrl-C rolls back what is
 * running (twice quits at once), and the exit code: 0, 1 a node failed, 3 another run holds the
 * models, 130 interrupted. The arguments are recorded in run_results.json, for `retry`.
 */
async function runWithReporter(command: BuildCommand, args: CliArgs, output: Output, start: (invocation: InvocationOptions) => Promise<RunOutcome>, options: InvocationOptions): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    output.err('interrupting: rolling back running models (press Ctrl-C again to quit at once)');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const what = command === 'run' ? 'model' : command === 'test' ? 'test' : command === 'build' ? 'node' : command === 'snapshot' ? 'snapshot' : 'seed';
    const { run } = await start({
      ...options,
      signal: controller.signal,
      onEvent: createRunReporter(output, args.logFormat, what),
      args: {
        select: args.select,
        exclude: args.exclude,
        indirect_selection: args.indirectSelection,
        target: args.target,
        threads: args.threads,
        ...(args.vars ? { vars: args.vars } : {}),
        ...(args.fullRefresh ? { full_refresh: true } : {}),
      },
    });
    if (run.interrupted) return 130;
    const failed = run.results.filter((r) => r.status === 'error' || r.status === 'fail');
    // Refused only because other runs hold the models' leases (DynamoDB): the target is locked
    // by another run, as when another process holds the local database file.
    if (!run.error && failed.length > 0 && failed.every((r) => isLeaseHeld(r.error))) return 3;
    if (run.error || failed.length > 0) return 1;
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

/**
 * A node's rows as dbt's `show` prints them: a table under `Previewing node 'name':`, numbers
 * right-aligned, NULL as NULL; with --output json, dbt's `{"node": name, "show": [row objects]}`.
 */
function formatPreview(preview: Preview, json: boolean): string {
  const { columns, rows } = preview.table;
  if (json) return JSON.stringify({ node: preview.name, show: rows.map((row) => Object.fromEntries(columns.map((c, i) => [c.name, row[i]]))) });
  const numeric = columns.map((_, i) => rows.length > 0 && rows.every((row) => row[i] === null || typeof row[i] === 'number'));
  const text = (v: unknown): string => (v === null || v === undefined ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const cells = [columns.map((c) => c.name), ...rows.map((row) => row.map(text))];
  const widths = columns.map((_, i) => Math.max(3, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  return [preview.inline ? 'Previewing inline node:' : `Previewing node '${preview.name}':`, line(cells[0]), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...cells.slice(1).map(line)].join('\n');
}

/** `2d 3h`, `4h 12m`, `7m 5s`, `12s`. */
function formatAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const [d, h, m] = [Math.floor(s / 86400), Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60)];
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

const VERIFY_LABEL = { ok: 'OK', problem: 'ERROR', reset: 'RESET', none: 'NO STATE' } as const;

function formatStateTable(records: readonly StateRecord[]): string {
  const rows = [
    ['table_name', 'watermark', 'value', 'rows_processed', 'rows_total', 'committed', 'version', 'batches'],
    ...records.map((r) => [
      r.table_name,
      r.watermark_type ?? '-',
      r.last_processed_value === null ? '-' : `${r.last_processed_value} (${r.watermark_data_type})`,
      String(r.rows_processed),
      String(r.rows_total),
      r.origin ? `${r.origin} ${r.last_processed_timestamp}` : r.last_processed_timestamp,
      String(r.version),
      r.batches === null ? '-' : r.batches.map(([s, e]) => `${shortTime(s)}..${shortTime(e)}`).join(', '),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

/** `2024-06-01` for a midnight, the full timestamp otherwise. */
function shortTime(iso: string): string {
  return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso;
}

function formatListed(node: ManifestNode, format: CliArgs['output']): string {
  if (format === 'path') return node.original_file_path;
  const name = node.resource_type === 'source' ? `${node.source_name}.${node.name}` : node.name;
  if (format === 'name') return name;
  return JSON.stringify({
    name,
    resource_type: node.resource_type === 'model' && node.snapshot ? 'snapshot' : node.resource_type,
    unique_id: node.unique_id,
    original_file_path: node.original_file_path,
    depends_on: node.depends_on,
    config: node.config,
  });
}
