/**
 * `npm run deploy:template [-- --select SEL... --exclude SEL... --granularity level|model
 * --project-dir DIR --out FILE]`: the CloudFormation template to deploy (deploy/README.md).
 *
 * deploy/template.yml is the template with a placeholder state machine definition. This script
 * reads it, puts in the definition that `smelter stepfunctions --function-arn '${SmelterFunctionArn}'`
 * prints for the selection (CloudFormation substitutes the function's ARN through the state
 * machine's DefinitionSubstitutions), sets the defaults that come from the project — LeaseSeconds
 * (the aws target's state.lease_seconds, which is also the function's Timeout) and GoldPrefix (the
 * folder of the bucket holding every external model) — and writes dist/deploy/template.json.
 *
 * The definition comes from the built CLI in a child process, as an operator would get it: this
 * script depends on the command line, not on where the generator lives in the runtime.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseDocument, type CollectionTag, type ScalarTag, type YAMLMap, type YAMLSeq } from 'yaml';
import { ROOT } from './repo-root.js';

export { ROOT };

export const TEMPLATE_YAML = join(ROOT, 'deploy', 'template.yml');
export const TEMPLATE_JSON = join(ROOT, 'dist', 'deploy', 'template.json');
/** The placeholder in the definition that DefinitionSubstitutions replaces with the function's ARN. */
export const FUNCTION_ARN_VARIABLE = 'SmelterFunctionArn';
/** Lambda's longest Timeout. */
const MAX_LAMBDA_SECONDS = 900;
/** The dynamodb state backend's lease when the target sets none. */
const DEFAULT_LEASE_SECONDS = 900;
/** The target the function runs (the handler's default; the template sets no SMELTER_TARGET). */
const FUNCTION_TARGET = 'aws';

export class DeployTemplateError extends Error {
  override name = 'DeployTemplateError';
}

// ---------------------------------------------------------------------------------------------
// CloudFormation YAML: the short-form tags become the long-form functions CloudFormation reads
// (`!Ref X` -> {"Ref": "X"}, `!GetAtt A.B` -> {"Fn::GetAtt": ["A", "B"]}, `!Sub s` -> {"Fn::Sub": s}),
// so the parsed template is the JSON template.

const FUNCTIONS: Record<string, string> = {
  '!Ref': 'Ref',
  '!Condition': 'Condition',
  '!Sub': 'Fn::Sub',
  '!GetAtt': 'Fn::GetAtt',
  '!If': 'Fn::If',
  '!Equals': 'Fn::Equals',
  '!Not': 'Fn::Not',
  '!And': 'Fn::And',
  '!Or': 'Fn::Or',
  '!Join': 'Fn::Join',
  '!Select': 'Fn::Select',
  '!Split': 'Fn::Split',
  '!FindInMap': 'Fn::FindInMap',
  '!Base64': 'Fn::Base64',
  '!Cidr': 'Fn::Cidr',
  '!GetAZs': 'Fn::GetAZs',
  '!ImportValue': 'Fn::ImportValue',
  '!Transform': 'Fn::Transform',
};

/** yaml customTags for every CloudFormation short form, on a scalar, a sequence or a mapping. */
export const CLOUDFORMATION_TAGS: (ScalarTag | CollectionTag)[] = Object.entries(FUNCTIONS).flatMap(([tag, fn]): (ScalarTag | CollectionTag)[] => [
  { tag, resolve: (text: string) => ({ [fn]: fn === 'Fn::GetAtt' ? splitGetAtt(text) : text }) },
  { tag, collection: 'seq', resolve: (node: YAMLMap.Parsed | YAMLSeq.Parsed) => ({ [fn]: node.toJSON() }) },
  { tag, collection: 'map', resolve: (node: YAMLMap.Parsed | YAMLSeq.Parsed) => ({ [fn]: node.toJSON() }) },
]);

/** `!GetAtt Resource.Attribute` (the attribute may itself hold dots: `Db.Endpoint.Address`). */
function splitGetAtt(text: string): [string, string] {
  const dot = text.indexOf('.');
  if (dot <= 0 || dot === text.length - 1) throw new DeployTemplateError(`!GetAtt ${text}: expected Resource.Attribute`);
  return [text.slice(0, dot), text.slice(dot + 1)];
}

/** A CloudFormation YAML template as its JSON form. Any YAML error or warning (an unknown tag) is an error. */
export function parseCloudFormationYaml(text: string, file = 'template'): Record<string, unknown> {
  const doc = parseDocument(text, { customTags: CLOUDFORMATION_TAGS, prettyErrors: true });
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) throw new DeployTemplateError(`${file}: ${problems.map((p) => p.message).join('; ')}`);
  const value: unknown = doc.toJS();
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new DeployTemplateError(`${file}: not a template (a mapping)`);
  return value as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// The project: the definition, the lease and the Gold prefix.

export interface DeployTemplateOptions {
  /** The project (default: this repository's Gold project). */
  readonly projectDir?: string;
  readonly select?: readonly string[];
  readonly exclude?: readonly string[];
  readonly granularity?: 'level' | 'model';
  /** The template with the placeholder (default: deploy/template.yml). */
  readonly templateFile?: string;
}

/** Run the built CLI; its stdout (its warnings go to stderr), or a DeployTemplateError carrying its stderr. */
function smelter(args: readonly string[]): string {
  const bin = join(ROOT, 'bin', 'smelter.js');
  if (!existsSync(join(ROOT, 'dist', 'adapters', 'cli', 'main.js'))) {
    throw new DeployTemplateError('smelter is not built: run npm run build (npm run deploy:template does it first)');
  }
  const child = spawnSync(process.execPath, [bin, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (child.error) throw child.error;
  if (child.status !== 0) {
    throw new DeployTemplateError(`smelter ${args[0]} failed (exit ${child.status}):\n${child.stderr.trim() || child.stdout.trim()}`);
  }
  if (child.stderr.trim() !== '') process.stderr.write(child.stderr);
  return child.stdout;
}

function selectionArgs(options: DeployTemplateOptions): string[] {
  const args = ['--project-dir', resolve(options.projectDir ?? ROOT)];
  if (options.select && options.select.length > 0) args.push('--select', ...options.select);
  if (options.exclude && options.exclude.length > 0) args.push('--exclude', ...options.exclude);
  return args;
}

/** What `smelter stepfunctions --function-arn '${SmelterFunctionArn}'` prints for the selection, parsed. */
export function stateMachineDefinition(options: DeployTemplateOptions = {}): Record<string, unknown> {
  const out = smelter([
    'stepfunctions',
    '--function-arn',
    `\${${FUNCTION_ARN_VARIABLE}}`,
    ...selectionArgs(options),
    ...(options.granularity ? ['--granularity', options.granularity] : []),
  ]);
  const definition = JSON.parse(out) as Record<string, unknown>;
  // A state machine without a Task builds nothing: a schedule starting it daily is a mistake.
  if (!JSON.stringify(definition).includes('"Type":"Task"')) throw new DeployTemplateError(`nothing to deploy (${String(definition.Comment ?? 'no Task state')})`);
  return definition;
}

/**
 * The lease of the function's target (project.yml `targets.aws.state.lease_seconds`, default 900),
 * capped at Lambda's 900 s: the function's Timeout. The target must keep its state in DynamoDB and
 * its storage at the root of a bucket (the role's prefixes are relative to the bucket).
 */
export function functionLeaseSeconds(projectDir: string): number {
  const file = join(projectDir, 'project.yml');
  const project = parseYaml(readFileSync(file, 'utf8')) as { targets?: Record<string, { storage?: unknown; state?: { backend?: unknown; lease_seconds?: unknown } }> };
  const target = project?.targets?.[FUNCTION_TARGET];
  if (!target) throw new DeployTemplateError(`${file}: no '${FUNCTION_TARGET}' target; the function runs it (S3 storage, DynamoDB state)`);
  if (typeof target.storage !== 'string' || !/^s3:\/\/[^/]+\/?$/.test(target.storage)) {
    throw new DeployTemplateError(`${file}: targets.${FUNCTION_TARGET}.storage must be the root of the bucket (s3://BUCKET), got ${JSON.stringify(target.storage)}: the role's prefixes are relative to the bucket`);
  }
  if (target.state?.backend !== 'dynamodb') {
    throw new DeployTemplateError(`${file}: targets.${FUNCTION_TARGET}.state.backend must be dynamodb: the function keeps its state in the stack's DynamoDB table`);
  }
  const lease = target.state.lease_seconds ?? DEFAULT_LEASE_SECONDS;
  if (typeof lease !== 'number' || !Number.isInteger(lease) || lease < 60) {
    throw new DeployTemplateError(`${file}: targets.${FUNCTION_TARGET}.state.lease_seconds must be an integer of at least 60 (the function's Timeout), got ${JSON.stringify(lease)}`);
  }
  return Math.min(lease, MAX_LAMBDA_SECONDS);
}

interface ListedModel {
  readonly name: string;
  readonly config: { readonly external?: boolean; readonly location?: string; readonly schema?: string; readonly alias?: string };
}

/**
 * The one top folder of the bucket holding every external model of the project (`{schema}/{alias}`
 * or `location`): the role may write there. Several folders, or silver/ or .smelter/, are refused.
 */
export function goldPrefix(projectDir: string): string {
  const out = smelter(['ls', '--output', 'json', '--select', 'resource_type:model', '--project-dir', resolve(projectDir)]);
  const models = out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as ListedModel);
  const byFolder = new Map<string, string[]>();
  for (const m of models) {
    if (!m.config.external) continue;
    const location = (m.config.location ?? `${m.config.schema ?? 'main'}/${m.config.alias ?? m.name}`).replace(/^\/+|\/+$/g, '');
    const top = location.split('/')[0];
    byFolder.set(top, [...(byFolder.get(top) ?? []), m.name]);
  }
  const folders = [...byFolder.keys()].sort();
  if (folders.length === 0) throw new DeployTemplateError('the project has no external model: nothing for the function to write');
  if (folders.length > 1) {
    throw new DeployTemplateError(
      `external models live under ${folders.length} folders (${folders.map((f) => `${f}/: ${byFolder.get(f)!.join(', ')}`).join('; ')}); the role writes one: give them one schema or location prefix`,
    );
  }
  const folder = folders[0];
  if (folder === 'silver' || folder.startsWith('.')) {
    throw new DeployTemplateError(`external models (${byFolder.get(folder)!.join(', ')}) live under ${folder}/, which the function may never write`);
  }
  return folder;
}

type Template = Record<string, unknown> & {
  Parameters: Record<string, Record<string, unknown>>;
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
};

/** deploy/template.yml with the state machine definition of the selection and the project's defaults. */
export function composeTemplate(options: DeployTemplateOptions = {}): Template {
  const projectDir = resolve(options.projectDir ?? ROOT);
  const file = options.templateFile ?? TEMPLATE_YAML;
  const template = parseCloudFormationYaml(readFileSync(file, 'utf8'), file) as Template;
  const machine = Object.values(template.Resources ?? {}).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (machine.length !== 1) throw new DeployTemplateError(`${file}: expected one AWS::StepFunctions::StateMachine, found ${machine.length}`);
  const substitutions = machine[0].Properties.DefinitionSubstitutions as Record<string, unknown> | undefined;
  if (!substitutions || !(FUNCTION_ARN_VARIABLE in substitutions)) {
    throw new DeployTemplateError(`${file}: the state machine's DefinitionSubstitutions must define ${FUNCTION_ARN_VARIABLE}`);
  }
  for (const [name, value] of [['LeaseSeconds', functionLeaseSeconds(projectDir)], ['GoldPrefix', goldPrefix(projectDir)]] as const) {
    const parameter = template.Parameters?.[name];
    if (!parameter) throw new DeployTemplateError(`${file}: no parameter ${name}`);
    parameter.Default = value;
  }
  machine[0].Properties.Definition = stateMachineDefinition({ ...options, projectDir });
  return template;
}

// ---------------------------------------------------------------------------------------------

const USAGE = 'usage: npm run deploy:template [-- --select SEL... --exclude SEL... --granularity level|model --project-dir DIR --out FILE]';

export async function main(argv: readonly string[]): Promise<number> {
  const many = new Map<string, string[]>();
  const one = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const flag = arg === '-s' ? '--select' : arg;
    if (flag === '--select' || flag === '--exclude') {
      const list = many.get(flag) ?? [];
      while (i + 1 < argv.length && !argv[i + 1].startsWith('-')) list.push(argv[++i]);
      if (list.length === 0) return usage(`${flag} needs at least one selector`);
      many.set(flag, list);
    } else if (flag === '--granularity' || flag === '--project-dir' || flag === '--out') {
      const value = argv[++i];
      if (value === undefined || value.startsWith('-')) return usage(`${flag} needs a value`);
      one.set(flag, value);
    } else if (flag === '--help' || flag === '-h') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    } else {
      return usage(`unknown option ${arg}`);
    }
  }
  const granularity = one.get('--granularity');
  if (granularity !== undefined && granularity !== 'level' && granularity !== 'model') return usage(`--granularity must be level or model, got '${granularity}'`);
  const out = resolve(one.get('--out') ?? TEMPLATE_JSON);
  try {
    const template = composeTemplate({
      projectDir: one.get('--project-dir'),
      select: many.get('--select'),
      exclude: many.get('--exclude'),
      granularity,
    });
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(template, null, 2)}\n`);
    const machine = Object.values(template.Resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    const comment = (machine?.Properties.Definition as { Comment?: unknown } | undefined)?.Comment;
    process.stdout.write(`wrote ${out}${typeof comment === 'string' ? ` (${comment})` : ''}\n`);
    return 0;
  } catch (e) {
    if (e instanceof DeployTemplateError) {
      process.stderr.write(`deploy-template: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function usage(message: string): number {
  process.stderr.write(`deploy-template: ${message}\n${USAGE}\n`);
  return 2;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
