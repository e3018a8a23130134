import { createRequire } from 'node:module';
import { UsageError } from '../../runtime/errors.js';
import { INDIRECT_SELECTION_MODES, type IndirectSelection } from '../../runtime/select/select.js';
import { didYouMean } from '../../runtime/util/did-you-mean.js';
import { parseUtcTime } from '../../runtime/util/utc-time.js';

export const COMMANDS = {
  compile: 'render the selected models to target/compiled/ and write target/manifest.json',
  run: 'build the selected models in graph order, --threads at a time',
  test: 'run the selected data tests (and the tests of the selected models) on committed data',
  build: 'seeds, models and their tests in graph order; a model is published only if its tests pass',
  stepfunctions: 'print a Step Functions state machine (ASL JSON) that builds the selection through the Lambda adapter',
  seed: 'load the CSV files in seeds/ as tables',
  snapshot: "build a dbt project's snapshots (snapshots/): history kept by the scd2 materialization, with dbt's column names",
  ls: 'list the selected nodes (parse only, no database)',
  parse: 'read and check the whole project and write target/manifest.json (no database)',
  clean: "delete the folders dbt_project.yml's clean-targets lists (default: the target path)",
  'run-operation': "run-operation MACRO [--args YAML]: call a macro on the target's database, its queries in one transaction",
  init: 'init NAME: start a new project in the folder NAME (a seed, two models and their tests)',
  debug: "check the project, its profile and the target's database (changes nothing)",
  retry: "run again, with the same command and arguments, the nodes the last run left failed or skipped (target/run_results.json)",
  source: "source freshness: check the selected sources' newest loaded_at_field against their freshness; write target/sources.json",
  show: "preview the selected models' rows (their SQL run on the target's database, --limit rows) and seeds'",
  deps: 'install the packages of packages.yml (or dependencies.yml) into dbt_packages/ and write package-lock.yml',
  docs: 'docs generate: write target/manifest.json (compiled SQL, column lineage), target/catalog.json and the docs site target/index.html; docs serve [--port N]: serve it on 127.0.0.1',
  state: 'state show: print the committed state of incremental, scd2 and external models; state verify: check it against the data; state reset --select: rebuild them; state adopt --select: take over existing data',
} as const;
export type CliCommand = keyof typeof COMMANDS;
/** dbt's commands smelter lacks: a did-you-mean would point at one that does something else (docs -> deps). */
const DBT_COMMANDS_NOT_HERE = ['clone'];
export const STATE_SUBCOMMANDS = ['show', 'verify', 'reset', 'adopt'] as const;
export type StateSubcommand = (typeof STATE_SUBCOMMANDS)[number];
export const DOCS_SUBCOMMANDS = ['generate', 'serve'] as const;
export type DocsSubcommand = (typeof DOCS_SUBCOMMANDS)[number];
export const SOURCE_SUBCOMMANDS = ['freshness'] as const;

export interface CliArgs {
  readonly command?: CliCommand;
  /** For `state`, `docs` and `source`. */
  readonly subcommand?: StateSubcommand | DocsSubcommand | (typeof SOURCE_SUBCOMMANDS)[number];
  readonly help: boolean;
  readonly version: boolean;
  readonly projectDir: string;
  /** A dbt project's profiles.yml folder. */
  readonly profilesDir?: string;
  readonly target?: string;
  readonly select: string[];
  readonly exclude: string[];
  /** Which tests the selected nodes bring with them (dbt's --indirect-selection; default eager). */
  readonly indirectSelection: IndirectSelection;
  readonly vars?: Record<string, unknown>;
  readonly threads?: number;
  readonly fullRefresh: boolean;
  readonly force: boolean;
  readonly state?: string;
  readonly eventTimeStart?: Date;
  readonly eventTimeEnd?: Date;
  readonly failFast: boolean;
  readonly logFormat: 'text' | 'json';
  readonly output: 'name' | 'path' | 'json';
  readonly debug: boolean;
  /** stepfunctions: the Lambda function's ARN, and one invocation per level or per model. */
  readonly functionArn?: string;
  readonly granularity: 'level' | 'model';
  /** stepfunctions: a backfill Map's MaxConcurrency (batches run at once; 0: no limit); the generator's default when absent. */
  readonly maxConcurrency?: number;
  /** deps: resolve again from packages.yml even when package-lock.yml matches it. */
  readonly upgrade: boolean;
  /** docs serve: the port on 127.0.0.1 (0: any free port). */
  readonly port: number;
  /** show: rows previewed per node (-1: all). */
  readonly limit: number;
  /** show: a query to preview (Jinja, refs and sources allowed) instead of a selection. */
  readonly inline?: string;
  /** init: the new project's name (and folder). */
  readonly projectName?: string;
  /** run-operation: the macro (`name` or `package.name`) and its keyword arguments. */
  readonly macro?: string;
  readonly macroArgs?: Record<string, unknown>;
}

type Flag = { name: string; takes: 'none' | 'one' | 'many'; alias?: string };
const FLAGS: Flag[] = [
  { name: '--project-dir', takes: 'one' },
  { name: '--profiles-dir', takes: 'one' },
  { name: '--target', takes: 'one', alias: '-t' },
  { name: '--select', takes: 'many', alias: '-s' },
  { name: '--models', takes: 'many', alias: '-m' },
  { name: '--exclude', takes: 'many' },
  { name: '--indirect-selection', takes: 'one' },
  { name: '--vars', takes: 'one' },
  { name: '--threads', takes: 'one' },
  { name: '--full-refresh', takes: 'none' },
  { name: '--force', takes: 'none' },
  { name: '--state', takes: 'one' },
  { name: '--event-time-start', takes: 'one' },
  { name: '--event-time-end', takes: 'one' },
  { name: '--fail-fast', takes: 'none', alias: '-x' },
  { name: '--log-format', takes: 'one' },
  { name: '--output', takes: 'one', alias: '-o' },
  { name: '--debug', takes: 'none', alias: '-d' },
  { name: '--function-arn', takes: 'one' },
  { name: '--granularity', takes: 'one' },
  { name: '--max-concurrency', takes: 'one' },
  { name: '--upgrade', takes: 'none' },
  { name: '--port', takes: 'one' },
  { name: '--limit', takes: 'one' },
  { name: '--inline', takes: 'one' },
  { name: '--args', takes: 'one' },
  { name: '--help', takes: 'none', alias: '-h' },
  { name: '--version', takes: 'none', alias: '-v' },
];

/** argv (without node and script) -> CliArgs; bad usage is a UsageError (exit 2). */
export function parseArgs(argv: readonly string[]): CliArgs {
  const values = new Map<string, string[]>();
  let command: string | undefined;
  let subcommand: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-') {
      if ((command === 'state' || command === 'docs' || command === 'source' || command === 'run-operation' || command === 'init') && subcommand === undefined) subcommand = arg;
      else if (command !== undefined) throw new UsageError(`unexpected argument '${arg}'`, { hint: 'selectors go after --select' });
      else command = arg;
      continue;
    }
    const [flagText, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const flag = FLAGS.find((f) => f.name === flagText || f.alias === flagText);
    if (!flag) throw new UsageError(`unknown option ${flagText}`, { hint: didYouMean(flagText, FLAGS.map((f) => f.name)) ?? 'see smelter --help' });
    const name = flag.name === '--models' ? '--select' : flag.name;
    const list = values.get(name) ?? [];
    values.set(name, list);
    if (flag.takes === 'none') {
      if (inline !== undefined) throw new UsageError(`${flag.name} takes no value`);
      list.push('true');
    } else if (inline !== undefined) {
      list.push(inline);
    } else if (flag.takes === 'one') {
      const v = argv[++i];
      if (v === undefined || (v.startsWith('-') && v.length > 1 && !/^-\d/.test(v))) throw new UsageError(`${flag.name} needs a value`);
      list.push(v);
    } else {
      let n = 0;
      while (i + 1 < argv.length && !argv[i + 1].startsWith('-')) {
        list.push(argv[++i]);
        n++;
      }
      if (n === 0) throw new UsageError(`${flag.name} needs at least one selector`);
    }
  }
  const one = (name: string) => {
    const v = values.get(name);
    if (v && v.length > 1) throw new UsageError(`${name} given more than once`);
    return v?.[0];
  };
  const has = (name: string) => values.has(name);
  if (command !== undefined && !(command in COMMANDS)) {
    const hint = DBT_COMMANDS_NOT_HERE.includes(command) ? undefined : didYouMean(command, Object.keys(COMMANDS));
    throw new UsageError(`unknown command '${command}'`, { hint: hint ?? 'see smelter --help' });
  }
  if (command === 'state' && !(STATE_SUBCOMMANDS as readonly (string | undefined)[]).includes(subcommand)) {
    throw new UsageError(subcommand === undefined ? `state needs ${STATE_SUBCOMMANDS.join(', ')}` : `unknown state command '${subcommand}'`, {
      hint: didYouMean(subcommand ?? '', [...STATE_SUBCOMMANDS]) ?? 'smelter state show | verify | reset --select ... | adopt --select ...',
    });
  }
  if (command === 'docs' && !(DOCS_SUBCOMMANDS as readonly (string | undefined)[]).includes(subcommand)) {
    throw new UsageError(subcommand === undefined ? `docs needs ${DOCS_SUBCOMMANDS.join(' or ')}` : `unknown docs command '${subcommand}'`, {
      hint: didYouMean(subcommand ?? '', [...DOCS_SUBCOMMANDS]) ?? 'smelter docs generate | serve [--port N]',
    });
  }
  if (command === 'source' && !(SOURCE_SUBCOMMANDS as readonly (string | undefined)[]).includes(subcommand)) {
    throw new UsageError(subcommand === undefined ? 'source needs freshness' : `unknown source command '${subcommand}'`, { hint: 'smelter source freshness [--select source:NAME]' });
  }
  if (command === 'init' && subcommand === undefined) throw new UsageError('init needs the new project\'s name', { hint: 'smelter init my_project' });
  if (command === 'run-operation' && subcommand === undefined) throw new UsageError('run-operation needs a macro name', { hint: "smelter run-operation my_macro --args '{key: value}'" });
  const portText = one('--port') ?? '8080';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number (0-65535), got '${portText}'`);
  const limitText = one('--limit') ?? '5';
  const limit = Number(limitText);
  if (!Number.isInteger(limit) || limit < -1) throw new UsageError(`--limit must be a whole number of rows (-1: all), got '${limitText}'`);
  const threadsText = one('--threads');
  let threads: number | undefined;
  if (threadsText !== undefined) {
    threads = Number(threadsText);
    if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`--threads must be a positive integer, got '${threadsText}'`);
  }
  const logFormat = one('--log-format') ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json') throw new UsageError(`--log-format must be text or json, got '${logFormat}'`);
  const granularity = one('--granularity') ?? 'level';
  if (granularity !== 'level' && granularity !== 'model') throw new UsageError(`--granularity must be level or model, got '${granularity}'`);
  if (command === 'stepfunctions' && one('--function-arn') === undefined) throw new UsageError('stepfunctions needs --function-arn: the Lambda function the state machine invokes');
  const maxConcurrencyText = one('--max-concurrency');
  let maxConcurrency: number | undefined;
  if (maxConcurrencyText !== undefined) {
    maxConcurrency = Number(maxConcurrencyText);
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 0) throw new UsageError(`--max-concurrency must be a whole number (0: no limit), got '${maxConcurrencyText}'`);
  }
  const indirectSelection = one('--indirect-selection') ?? 'eager';
  if (!(INDIRECT_SELECTION_MODES as readonly string[]).includes(indirectSelection)) {
    throw new UsageError(`--indirect-selection must be eager, cautious, buildable or empty, got '${indirectSelection}'`, { hint: didYouMean(indirectSelection, INDIRECT_SELECTION_MODES) });
  }
  const output = one('--output') ?? 'name';
  if (output !== 'name' && output !== 'path' && output !== 'json') throw new UsageError(`--output must be name, path or json, got '${output}'`);
  return {
    command: command as CliCommand | undefined,
    subcommand: command === 'run-operation' || command === 'init' ? undefined : (subcommand as CliArgs['subcommand']),
    macro: command === 'run-operation' ? subcommand : undefined,
    projectName: command === 'init' ? subcommand : undefined,
    macroArgs: parseYamlMapping(one('--args'), '--args'),
    help: has('--help'),
    version: has('--version'),
    projectDir: one('--project-dir') ?? '.',
    profilesDir: one('--profiles-dir'),
    target: one('--target'),
    select: values.get('--select') ?? [],
    exclude: values.get('--exclude') ?? [],
    indirectSelection: indirectSelection as IndirectSelection,
    vars: parseYamlMapping(one('--vars'), '--vars'),
    threads,
    fullRefresh: has('--full-refresh'),
    force: has('--force'),
    state: one('--state'),
    eventTimeStart: parseTime(one('--event-time-start'), '--event-time-start'),
    eventTimeEnd: parseTime(one('--event-time-end'), '--event-time-end'),
    failFast: has('--fail-fast'),
    logFormat,
    output,
    debug: has('--debug'),
    functionArn: one('--function-arn'),
    granularity,
    maxConcurrency,
    upgrade: has('--upgrade'),
    port,
    limit,
    inline: one('--inline'),
  };
}

function parseTime(text: string | undefined, flag: string): Date | undefined {
  if (text === undefined) return undefined;
  const time = parseUtcTime(text);
  if (Number.isNaN(time.getTime())) throw new UsageError(`${flag} must be a date or timestamp (e.g. 2024-06-01), got '${text}'`);
  return time;
}

/** --vars or --args: a YAML mapping. */
function parseYamlMapping(text: string | undefined, flag: '--vars' | '--args'): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  const code = flag === '--vars' ? 'vars' : 'usage';
  let value: unknown;
  try {
    // Loaded only for --vars and --args: every command that has none starts without the YAML parser.
    const { parse: parseYaml } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    value = parseYaml(text);
  } catch (error) {
    throw new UsageError(`${flag} is not valid YAML: ${(error as Error).message.split('\n')[0]}`, { code });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`${flag} must be a YAML mapping, e.g. ${flag} '{lookback_days: 30}'`, { code });
  }
  return value as Record<string, unknown>;
}

export function helpText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'smelter: SQL-first transformations on DuckDB, in the style of dbt',
    '',
    'usage: smelter <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([c, d]) => `  ${c.padEnd(width)}  ${d}`),
    '',
    'options:',
    '  --project-dir DIR         the project (default: the current directory)',
    '  --profiles-dir DIR        a dbt project\'s profiles.yml folder (default: DBT_PROFILES_DIR, the project, ~/.dbt)',
    '  --target, -t NAME         a target of project.yml (default: its target:)',
    '  --select, -s SEL...       nodes to act on (dbt selector grammar)',
    '  --exclude SEL...          nodes to leave out (tests go with their models)',
    '  --indirect-selection M    tests a selection brings: eager (any parent selected, default),',
    '                            cautious (all parents), buildable (all parents selected or upstream), empty',
    "  --vars YAML               set declared vars, e.g. --vars '{lookback_days: 30}'",
    '  --threads N               models built at once (default: the target\'s threads)',
    '  --state DIR               an earlier target/ folder, for state:modified',
    '  --event-time-start T      microbatch: rebuild the batches from T (a backfill)',
    '  --event-time-end T        microbatch: ... up to T (exclusive)',
    '  --fail-fast, -x           stop at the first failure',
    '  --log-format text|json    json: one JSON object per line',
    '  --output name|path|json   what ls prints (state show, show: json)',
    '  --limit N                 show: rows per node (default 5; -1: all)',
    "  --inline SQL              show: preview a query (refs, sources, macros allowed) instead of --select",
    "  --args YAML               run-operation: the macro's keyword arguments, e.g. --args '{days: 7}'",
    "  --full-refresh            rebuild incremental models from scratch (a model's full_refresh config wins)",
    '  --force                   with --full-refresh or state reset: also rebuild scd2 models',
    '  --debug                   print stack traces',
    '  --function-arn ARN        stepfunctions: the Lambda function to invoke',
    '  --granularity level|model stepfunctions: one invocation per graph level (default) or per model',
    '  --max-concurrency N       stepfunctions: batches of a backfill\'s Map run at once (default 4; 0: no limit)',
    '  --upgrade                 deps: ignore package-lock.yml and resolve the versions again',
    '',
    'exit codes: 0 ok, 1 a node failed, 2 bad usage or project, 3 database locked, 130 interrupted',
  ].join('\n');
}
