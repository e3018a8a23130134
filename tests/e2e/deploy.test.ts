import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { parse as parseYaml } from 'yaml';
import { composeTemplate, DeployTemplateError, main, parseCloudFormationYaml, ROOT, TEMPLATE_YAML } from '../../scripts/deploy-template.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * deploy/ (SPEC §9): the CloudFormation template `npm run deploy:template` writes.
 *
 * - It validates with cfn-lint, the registry's JavaScript CloudFormation validator: it resolves
 *   every intrinsic function (an unknown !Ref or !GetAtt target is an error), checks every
 *   resource's properties against the CloudFormation resource specification (unknown properties,
 *   required properties, types). cfn-lint 1.9.7 carries specification 2.29.0 (early 2019), which
 *   predates properties this template needs; the test adds exactly those to its specification, as
 *   the current CloudFormation reference defines them (see CFN_SPEC_SINCE_2019), and checks that the
 *   validator still rejects a broken template.
 * - The function's role, resolved with concrete values, is evaluated action by action by
 *   @cloud-copilot/iam-simulate (IAM's evaluation logic: explicit deny, allow, implicit deny).
 * - The embedded state machine is what `smelter stepfunctions` prints for the same selection.
 *
 * The CLI must be built (`npm test` builds first); when it is not, this file builds it.
 */

const require = createRequire(import.meta.url);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type Template = {
  Parameters: Record<string, JsonObject>;
  Conditions: Record<string, Json>;
  Resources: Record<string, { Type: string; Properties: JsonObject; Condition?: string; DeletionPolicy?: string }>;
  Outputs: Record<string, JsonObject>;
};

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const BUCKET = 'congress-data';
const STACK = 'smelter';
const KMS_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const PARAMETERS = { BucketName: BUCKET, CodeBucket: 'congress-artifacts', CodeKey: 'smelter/lambda.zip' };
const FUNCTION_ARN_VARIABLE = '${SmelterFunctionArn}';

function cli(args: readonly string[]): string {
  const child = spawnSync(process.execPath, [join(ROOT, 'bin', 'smelter.js'), ...args], { cwd: ROOT, encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`smelter ${args.join(' ')}: exit ${child.status}\n${child.stderr}`);
  return child.stdout;
}

let generated: Template;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'adapters', 'cli', 'main.js'))) {
    // tsc emits even past type errors elsewhere; the CLI is all this file runs from dist/.
    spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' });
  }
  // The npm script's own entry (`npm run deploy:template -- --out FILE`), in this process.
  const out = mkdtempSync(join(tmpdir(), 'smelter-deploy-'));
  try {
    expect(await main(['--out', join(out, 'template.json')])).toBe(0);
    generated = JSON.parse(readFileSync(join(out, 'template.json'), 'utf8')) as Template;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 120_000);

// ---------------------------------------------------------------------------------------------
// The template resolved as CloudFormation would, with concrete values: the IAM policies to simulate.

const NO_VALUE = Symbol('AWS::NoValue');

/** Physical ids and attributes of the stack's resources, as CloudFormation would name them. */
function resourceValues(template: Template): { refs: Record<string, string>; atts: Record<string, string> } {
  const fnName = `${STACK}-Function-1A2B3C4D5E6F`;
  const table = `${STACK}-StateTable-1A2B3C4D5E6F`;
  const logGroup = `/aws/lambda/${STACK}-smelter`;
  const machine = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:StateMachine-1A2B3C4D5E6F`;
  const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${STACK}-${name}-1A2B3C4D5E6F`;
  const refs: Record<string, string> = {
    Function: fnName,
    StateTable: table,
    FunctionLogGroup: logGroup,
    StateMachine: machine,
    DailySchedule: `${STACK}-DailySchedule-1A2B3C4D5E6F`,
    FunctionRole: `${STACK}-FunctionRole-1A2B3C4D5E6F`,
    StateMachineRole: `${STACK}-StateMachineRole-1A2B3C4D5E6F`,
    ScheduleRole: `${STACK}-ScheduleRole-1A2B3C4D5E6F`,
    FunctionKmsPolicy: `${STACK}-Funct-1A2B3C4D5E6F`,
  };
  const atts: Record<string, string> = {
    'Function.Arn': `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${fnName}`,
    'StateTable.Arn': `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${table}`,
    'FunctionLogGroup.Arn': `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${logGroup}:*`,
    'StateMachine.Arn': machine,
    'FunctionRole.Arn': role('FunctionRole'),
    'StateMachineRole.Arn': role('StateMachineRole'),
    'ScheduleRole.Arn': role('ScheduleRole'),
  };
  // Every resource of the template must have its values here, so no reference goes unchecked.
  expect(Object.keys(refs).sort()).toEqual(Object.keys(template.Resources).sort());
  return { refs, atts };
}

/**
 * Resolve every intrinsic function of `template` with PARAMETERS and the given parameter values
 * (others take their Default), and drop the resources whose Condition is false, as CloudFormation
 * does. A !Ref or !GetAtt to nothing, or a parameter without a value, throws.
 */
function resolveTemplate(template: Template, given: Record<string, string> = {}): Template {
  const parameterValues: Record<string, string> = { ...PARAMETERS, ...given };
  const { refs, atts } = resourceValues(template);
  const pseudo: Record<string, string> = { 'AWS::AccountId': ACCOUNT, 'AWS::Region': REGION, 'AWS::Partition': 'aws', 'AWS::StackName': STACK, 'AWS::URLSuffix': 'amazonaws.com' };
  const ref = (name: string): string | typeof NO_VALUE => {
    if (name === 'AWS::NoValue') return NO_VALUE;
    if (name in pseudo) return pseudo[name];
    if (name in template.Parameters) {
      const value = parameterValues[name] ?? template.Parameters[name].Default;
      if (value === undefined || value === null) throw new Error(`parameter ${name} has no value`);
      return String(value);
    }
    if (name in refs) return refs[name];
    throw new Error(`!Ref ${name}: no parameter or resource of that name`);
  };
  const getAtt = (path: string): string => {
    if (!(path in atts)) throw new Error(`!GetAtt ${path}: unknown resource or attribute`);
    return atts[path];
  };
  const condition = (name: string): boolean => {
    if (!(name in (template.Conditions ?? {}))) throw new Error(`condition ${name} is not defined`);
    return truth(resolve(template.Conditions[name]));
  };
  const truth = (v: unknown): boolean => {
    if (typeof v !== 'boolean') throw new Error(`a condition resolved to ${JSON.stringify(v)}`);
    return v;
  };
  const resolve = (value: Json): unknown => {
    if (Array.isArray(value)) return value.map(resolve).filter((v) => v !== NO_VALUE);
    if (value === null || typeof value !== 'object') return value;
    const keys = Object.keys(value);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0] === 'Condition' || keys[0].startsWith('Fn::'))) {
      const arg = value[keys[0]];
      switch (keys[0]) {
        case 'Ref':
          return ref(arg as string);
        case 'Condition':
          return condition(arg as string);
        case 'Fn::GetAtt':
          return getAtt((arg as string[]).join('.'));
        case 'Fn::Sub': {
          const [text, vars] = typeof arg === 'string' ? [arg, {}] : (arg as [string, JsonObject]);
          const local = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, resolve(v)]));
          return text.replace(/\$\{(!?)([^}]+)\}/g, (_, bang: string, name: string) => {
            if (bang) return `\${${name}}`;
            if (name in local) return String(local[name]);
            return name.includes('.') && !name.startsWith('AWS::') ? getAtt(name) : String(ref(name));
          });
        }
        case 'Fn::If': {
          const [name, yes, no] = arg as [string, Json, Json];
          return condition(name) ? resolve(yes) : resolve(no);
        }
        case 'Fn::Equals': {
          const [a, b] = (arg as Json[]).map(resolve);
          return a === b;
        }
        case 'Fn::Not':
          return !truth((arg as Json[]).map(resolve)[0]);
        case 'Fn::And':
          return (arg as Json[]).map(resolve).every(truth);
        case 'Fn::Or':
          return (arg as Json[]).map(resolve).some(truth);
        case 'Fn::Join': {
          const [sep, list] = arg as [string, Json[]];
          return (resolve(list) as unknown[]).join(sep);
        }
        default:
          throw new Error(`${keys[0]}: not resolved by this test`);
      }
    }
    return Object.fromEntries(
      Object.entries(value)
        .map(([k, v]) => [k, resolve(v)] as const)
        .filter(([, v]) => v !== NO_VALUE),
    );
  };
  const kept = Object.fromEntries(Object.entries(template.Resources).filter(([, r]) => r.Condition === undefined || condition(r.Condition)));
  return resolve({ ...template, Resources: kept } as unknown as Json) as Template;
}

// ---------------------------------------------------------------------------------------------

/** cfn-lint's CloudFormation specification, plus the properties AWS added after its 2019 copy (those this template uses). */
const CFN_SPEC_SINCE_2019 = {
  PropertyTypes: {
    'AWS::Lambda::Function.EphemeralStorage': {
      Properties: { Size: { PrimitiveType: 'Integer', Required: true, UpdateType: 'Mutable' } },
    },
    'AWS::Lambda::Function.LoggingConfig': {
      Properties: Object.fromEntries(
        ['ApplicationLogLevel', 'LogFormat', 'LogGroup', 'SystemLogLevel'].map((name) => [name, { PrimitiveType: 'String', Required: false, UpdateType: 'Mutable' }]),
      ),
    },
  },
  ResourceTypes: {
    'AWS::Lambda::Function': {
      Properties: {
        Architectures: { Type: 'List', PrimitiveItemType: 'String', DuplicatesAllowed: false, Required: false, UpdateType: 'Mutable' },
        EphemeralStorage: { Type: 'EphemeralStorage', Required: false, UpdateType: 'Mutable' },
        LoggingConfig: { Type: 'LoggingConfig', Required: false, UpdateType: 'Mutable' },
      },
    },
    'AWS::StepFunctions::StateMachine': {
      Attributes: { Arn: { PrimitiveType: 'String' } },
      Properties: {
        Definition: { PrimitiveType: 'Json', Required: false, UpdateType: 'Mutable' },
        // Required in 2019, before Definition and DefinitionS3Location existed.
        DefinitionString: { PrimitiveType: 'String', Required: false, UpdateType: 'Mutable' },
        DefinitionSubstitutions: { Type: 'Map', PrimitiveItemType: 'String', Required: false, UpdateType: 'Mutable' },
        StateMachineType: { PrimitiveType: 'String', Required: false, UpdateType: 'Immutable' },
      },
    },
  },
};

interface CfnLintResult {
  templateValid: boolean;
  errors: { crit: { message: string; resource: string }[]; warn: { message: string; resource: string }[]; info: unknown[] };
}
let cfnLint: { validateJsonObject(template: unknown, options?: { parameters?: Record<string, unknown>; pseudoParameters?: Record<string, unknown> }): CfnLintResult };

function lint(template: Template, parameters: Record<string, string> = PARAMETERS): CfnLintResult {
  return cfnLint.validateJsonObject(structuredClone(template), {
    parameters,
    pseudoParameters: { 'AWS::AccountId': ACCOUNT, 'AWS::Region': REGION, 'AWS::StackName': STACK },
  });
}

describe('the generated template', () => {
  beforeAll(() => {
    // One CommonJS instance: the validator and the specification it reads.
    cfnLint = require('cfn-lint') as typeof cfnLint;
    (require('cfn-lint/lib/resourcesSpec') as { extendSpecification(spec: unknown): void }).extendSpecification(CFN_SPEC_SINCE_2019);
  });

  it('validates with cfn-lint: no error, no warning, with and without a KMS key', () => {
    for (const parameters of [PARAMETERS, { ...PARAMETERS, KmsKeyArn: KMS_KEY }]) {
      const result = lint(generated, parameters);
      expect(result.errors.crit).toEqual([]);
      expect(result.errors.warn).toEqual([]);
      expect(result.templateValid).toBe(true);
    }
  });

  it('is rejected by the same validator when broken (the check is live)', () => {
    const broken = structuredClone(generated);
    broken.Resources.Function.Properties.Timeout = { Ref: 'LeaseSecs' };
    broken.Resources.Function.Properties.EphemeralStorage = { Sise: 4096 };
    delete broken.Resources.Function.Properties.Runtime;
    broken.Resources.StateMachineRole.Properties.Policies = [{ PolicyName: 'x', PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': ['Functon', 'Arn'] } }] } }];
    const result = lint(broken);
    expect(result.templateValid).toBe(false);
    expect(result.errors.crit.map((e) => e.message).sort()).toEqual(
      [
        'Expecting an integer, got \'INVALID_REF\'',
        'No resource with logical name of Functon!',
        'Referenced value LeaseSecs does not exist',
        'Required property Runtime missing for type AWS::Lambda::Function',
        'Required property Size missing for type AWS::Lambda::Function.EphemeralStorage',
        'Sise is not a valid property of AWS::Lambda::Function.EphemeralStorage',
      ].sort(),
    );
  });

  it('runs the packaged handler on nodejs22.x, Timeout = the lease, /tmp sized, its own log group', () => {
    const fn = generated.Resources.Function;
    expect(fn.Type).toBe('AWS::Lambda::Function');
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
    expect(fn.Properties.Handler).toBe('index.handler');
    expect(fn.Properties.Code).toEqual({ S3Bucket: { Ref: 'CodeBucket' }, S3Key: { Ref: 'CodeKey' } });
    // Timeout is the lease parameter itself, so every deployed value keeps Timeout <= lease <= 900.
    expect(fn.Properties.Timeout).toEqual({ Ref: 'LeaseSeconds' });
    const lease = generated.Parameters.LeaseSeconds;
    expect(lease).toMatchObject({ Type: 'Number', Default: 900, MaxValue: 900 });
    const projectLease = (parseYaml(readFileSync(join(ROOT, 'project.yml'), 'utf8')) as { targets: { aws: { state: { lease_seconds: number } } } }).targets.aws.state.lease_seconds;
    expect(lease.Default).toBe(Math.min(projectLease, 900));
    const resolved = resolveTemplate(generated).Resources.Function.Properties;
    expect(resolved.Timeout).toBe('900');
    expect(Number(resolved.Timeout)).toBeLessThanOrEqual(Number(lease.Default));
    expect(resolved).toMatchObject({
      MemorySize: '1024',
      Architectures: ['x86_64'],
      EphemeralStorage: { Size: '8192' },
      ReservedConcurrentExecutions: '4',
      LoggingConfig: { LogGroup: `/aws/lambda/${STACK}-smelter` },
      Environment: {
        Variables: {
          S3_BUCKET_NAME: BUCKET,
          WATERMARK_TABLE: `${STACK}-StateTable-1A2B3C4D5E6F`,
          LOG_LEVEL: 'INFO',
          SMELTER_CACHE_DIR: '/tmp/smelter-cache',
        },
      },
    });
    expect(generated.Parameters.Architecture.AllowedValues).toEqual(['x86_64', 'arm64']);
    expect(generated.Resources.FunctionLogGroup.Type).toBe('AWS::Logs::LogGroup');
    expect(resolveTemplate(generated).Resources.FunctionLogGroup.Properties).toEqual({ LogGroupName: `/aws/lambda/${STACK}-smelter`, RetentionInDays: '30' });
  });

  it('keeps state in a PAY_PER_REQUEST table keyed by table_name, with PITR, retained', () => {
    const table = generated.Resources.StateTable;
    expect(table.Type).toBe('AWS::DynamoDB::Table');
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties).toEqual({
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'table_name', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'table_name', KeyType: 'HASH' }],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
    });
  });

  it('starts the state machine daily through a role that may do only that', () => {
    const { refs, atts } = resourceValues(generated);
    expect(generated.Parameters.ScheduleExpression.Default).toBe('cron(0 6 * * ? *)');
    expect(resolveTemplate(generated).Resources.DailySchedule).toEqual({
      Type: 'AWS::Events::Rule',
      Properties: {
        Description: 'Starts the smelter state machine (the Gold build) once a day.',
        ScheduleExpression: 'cron(0 6 * * ? *)',
        State: 'ENABLED',
        Targets: [{ Id: 'smelter-state-machine', Arn: refs.StateMachine, RoleArn: atts['ScheduleRole.Arn'], Input: '{}' }],
      },
    });
  });

  it('embeds the definition `smelter stepfunctions` prints, with the function ARN substituted', async () => {
    const printed = JSON.parse(cli(['stepfunctions', '--function-arn', FUNCTION_ARN_VARIABLE])) as JsonObject;
    const machine = generated.Resources.StateMachine.Properties;
    expect(machine.Definition).toEqual(printed);
    expect(machine.DefinitionSubstitutions).toEqual({ SmelterFunctionArn: { 'Fn::GetAtt': ['Function', 'Arn'] } });
    expect(machine.RoleArn).toEqual({ 'Fn::GetAtt': ['StateMachineRole', 'Arn'] });
    // As CloudFormation substitutes it: every Task invokes the function, and the result is valid ASL.
    const arn = resourceValues(generated).atts['Function.Arn'];
    const text = JSON.stringify(machine.Definition);
    expect(text.match(/\$\{[^}]*\}/g)?.every((v) => v === FUNCTION_ARN_VARIABLE)).toBe(true);
    const substituted = JSON.parse(text.split(FUNCTION_ARN_VARIABLE).join(arn)) as JsonObject;
    const { default: validate } = await import('asl-validator');
    expect(validate(substituted)).toMatchObject({ isValid: true, errors: [] });
  });

  it('embeds the definition for a selection and a granularity too', () => {
    const select = ['+fact_ptr_transactions'];
    const template = composeTemplate({ select, granularity: 'model' });
    const printed = JSON.parse(cli(['stepfunctions', '--function-arn', FUNCTION_ARN_VARIABLE, '--select', ...select, '--granularity', 'model'])) as JsonObject;
    expect(template.Resources.StateMachine.Properties.Definition).toEqual(printed);
    expect(template.Resources.StateMachine.Properties.Definition).not.toEqual(generated.Resources.StateMachine.Properties.Definition);
    // Only the definition differs.
    expect({ ...template, Resources: { ...template.Resources, StateMachine: undefined } }).toEqual({ ...generated, Resources: { ...generated.Resources, StateMachine: undefined } });
  });

  it('is deploy/template.yml with the definition put in; the checked-in definition is a placeholder that fails', () => {
    const yaml = parseCloudFormationYaml(readFileSync(TEMPLATE_YAML, 'utf8')) as unknown as Template;
    expect(yaml.Resources.StateMachine.Properties.Definition).toEqual({
      Comment: 'placeholder - run npm run deploy:template and deploy dist/deploy/template.json',
      StartAt: 'NotGenerated',
      States: {
        NotGenerated: { Type: 'Fail', Error: 'TemplateNotGenerated', Cause: 'deploy/template.yml was deployed without its state machine; run npm run deploy:template' },
      },
    });
    const { Definition: _a, ...yamlMachine } = yaml.Resources.StateMachine.Properties;
    const { Definition: _b, ...generatedMachine } = generated.Resources.StateMachine.Properties;
    expect(generatedMachine).toEqual(yamlMachine);
    expect({ ...generated.Resources, StateMachine: null }).toEqual({ ...yaml.Resources, StateMachine: null });
    // Short forms became CloudFormation's long forms.
    expect(yaml.Resources.Function.Properties.Role).toEqual({ 'Fn::GetAtt': ['FunctionRole', 'Arn'] });
    expect(yaml.Conditions.HasKmsKey).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'KmsKeyArn' }, ''] }] });
    expect(() => parseCloudFormationYaml('a: !Reff x\n')).toThrow(DeployTemplateError);
  });

  it('refuses a selection that builds nothing', () => {
    expect(() => composeTemplate({ select: ['tag:no_such_tag'] })).toThrow('nothing to deploy (smelter: the selection has no models to build)');
  });

  it('refuses a project whose external models live under silver/', () => {
    const project = writeTempProject({
      'project.yml':
        "name: p\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake }\n  aws: { database: ':memory:', storage: 's3://b', state: { backend: dynamodb, table: t, lease_seconds: 600 } }\n",
      'models/m.sql': "{{ config(materialized='table', external=true, schema='silver') }}\nselect 1 as id",
    });
    try {
      expect(() => composeTemplate({ projectDir: project })).toThrow('external models (m) live under silver/, which the function may never write');
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------

type Outcome = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

/** The policies of a role in the resolved template: its inline policies and the AWS::IAM::Policy resources attached to it. */
function rolePolicies(template: Template, role: string): { name: string; policy: unknown }[] {
  const inline = template.Resources[role].Properties.Policies as { PolicyName: string; PolicyDocument: unknown }[];
  const roleName = resourceValues(generated).refs[role];
  const attached = Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as string[]).includes(roleName))
    .map((r) => ({ PolicyName: r.Properties.PolicyName as string, PolicyDocument: r.Properties.PolicyDocument }));
  return [...inline, ...attached].map((p) => ({ name: p.PolicyName, policy: p.PolicyDocument }));
}

/**
 * A KMS key is reachable only through its key policy; the default key policy ("Enable IAM User
 * Permissions": the account's root may do kms:*) leaves the decision to IAM policies, as for the
 * bucket's key. S3 and DynamoDB decide on identity policies alone within an account.
 */
const DEFAULT_KEY_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'EnableIamUserPermissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
};

async function simulate(template: Template, role: string, action: string, resource: string, context: Record<string, string> = {}): Promise<Outcome> {
  const result = await runSimulation(
    {
      request: { principal: resourceValues(generated).atts[`${role}.Arn`], action, resource: { resource, accountId: ACCOUNT }, contextVariables: context },
      identityPolicies: rolePolicies(template, role),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(action.startsWith('kms:') ? { resourcePolicy: DEFAULT_KEY_POLICY } : {}),
    },
    { simulationMode: 'Strict' },
  );
  if (result.resultType === 'error') throw new Error(`${action} on ${resource}: ${JSON.stringify(result.errors)}`);
  return result.overallResult;
}

const object = (key: string, bucket = BUCKET) => `arn:aws:s3:::${bucket}/${key}`;
const bucketArn = `arn:aws:s3:::${BUCKET}`;

describe("the function's role, simulated", () => {
  let resolved: Template;
  let table: string;
  beforeAll(() => {
    resolved = resolveTemplate(generated);
    table = resourceValues(generated).atts['StateTable.Arn'];
  });

  const cases: [string, string, () => string, Record<string, string>, Outcome][] = [
    // Silver: read and list only.
    ['s3:GetObject', 'silver/transactions/2024/part-0.parquet', () => object('silver/transactions/2024/part-0.parquet'), {}, 'Allowed'],
    ['s3:ListBucket', 'prefix silver/', () => bucketArn, { 's3:prefix': 'silver/' }, 'Allowed'],
    ['s3:ListBucket', 'prefix silver/members/', () => bucketArn, { 's3:prefix': 'silver/members/' }, 'Allowed'],
    ['s3:PutObject', 'silver/x.parquet', () => object('silver/x.parquet'), {}, 'ExplicitlyDenied'],
    ['s3:DeleteObject', 'silver/x.parquet', () => object('silver/x.parquet'), {}, 'ExplicitlyDenied'],
    ['s3:AbortMultipartUpload', 'silver/x.parquet', () => object('silver/x.parquet'), {}, 'ExplicitlyDenied'],
    ['s3:PutObjectAcl', 'silver/x.parquet', () => object('silver/x.parquet'), {}, 'ExplicitlyDenied'],
    // Gold and smelter's own area: read, write, delete, multipart.
    ...(['gold/fact_ptr_transactions/part-0.parquet', '.smelter/staging/gold.fact_ptr_transactions/run-1/part-0.parquet', '.smelter/manifests/gold.dim_member/v3.json'] as const).flatMap(
      (key): [string, string, () => string, Record<string, string>, Outcome][] =>
        ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'].map((action) => [action, key, () => object(key), {}, 'Allowed']),
    ),
    ['s3:ListBucket', 'prefix gold/', () => bucketArn, { 's3:prefix': 'gold/dim_member/' }, 'Allowed'],
    ['s3:ListBucket', 'prefix .smelter/', () => bucketArn, { 's3:prefix': '.smelter/staging/' }, 'Allowed'],
    // Nothing else in the bucket, nothing in another bucket, nothing on the bucket itself.
    ['s3:ListBucket', 'no prefix', () => bucketArn, {}, 'ImplicitlyDenied'],
    ['s3:ListBucket', 'prefix bronze/', () => bucketArn, { 's3:prefix': 'bronze/' }, 'ImplicitlyDenied'],
    ['s3:PutObject', 'bronze/x.parquet', () => object('bronze/x.parquet'), {}, 'ImplicitlyDenied'],
    ['s3:GetObject', 'bronze/x.parquet', () => object('bronze/x.parquet'), {}, 'ImplicitlyDenied'],
    ['s3:PutObject', 'another bucket gold/x.parquet', () => object('gold/x.parquet', 'another-bucket'), {}, 'ImplicitlyDenied'],
    ['s3:GetObject', 'another bucket silver/x.parquet', () => object('silver/x.parquet', 'another-bucket'), {}, 'ImplicitlyDenied'],
    ['s3:DeleteBucket', 'the bucket', () => bucketArn, {}, 'ImplicitlyDenied'],
    ['s3:PutBucketPolicy', 'the bucket', () => bucketArn, {}, 'ImplicitlyDenied'],
    // The state table: items only.
    ...['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:Scan'].map(
      (action): [string, string, () => string, Record<string, string>, Outcome] => [action, 'the state table', () => table, {}, 'Allowed'],
    ),
    ['dynamodb:DeleteTable', 'the state table', () => table, {}, 'ImplicitlyDenied'],
    ['dynamodb:UpdateTable', 'the state table', () => table, {}, 'ImplicitlyDenied'],
    ['dynamodb:PutItem', 'another table', () => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/other`, {}, 'ImplicitlyDenied'],
    ['dynamodb:GetItem', 'another table', () => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/other`, {}, 'ImplicitlyDenied'],
    // Its own log group.
    ['logs:PutLogEvents', 'its log group', () => `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/${STACK}-smelter:log-stream:2025/01/11/[$LATEST]0123`, {}, 'Allowed'],
    ['logs:CreateLogStream', 'its log group', () => `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/${STACK}-smelter:log-stream:2025/01/11/[$LATEST]0123`, {}, 'Allowed'],
    ['logs:PutLogEvents', 'another log group', () => `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/other:log-stream:x`, {}, 'ImplicitlyDenied'],
    // No KMS key configured: no KMS permission.
    ['kms:Decrypt', 'a key, KmsKeyArn empty', () => KMS_KEY, {}, 'ImplicitlyDenied'],
    ['kms:GenerateDataKey', 'a key, KmsKeyArn empty', () => KMS_KEY, {}, 'ImplicitlyDenied'],
  ];

  it.each(cases)('%s on %s: expected', async (action, _label, resource, context, outcome) => {
    expect(await simulate(resolved, 'FunctionRole', action, resource(), context)).toBe(outcome);
  });

  it('with KmsKeyArn set: kms:Decrypt and kms:GenerateDataKey on that key only', async () => {
    const withKey = resolveTemplate(generated, { KmsKeyArn: KMS_KEY });
    const other = `arn:aws:kms:${REGION}:${ACCOUNT}:key/ffffffff-12ab-34cd-56ef-1234567890ab`;
    expect(await simulate(withKey, 'FunctionRole', 'kms:Decrypt', KMS_KEY)).toBe('Allowed');
    expect(await simulate(withKey, 'FunctionRole', 'kms:GenerateDataKey', KMS_KEY)).toBe('Allowed');
    expect(await simulate(withKey, 'FunctionRole', 'kms:Decrypt', other)).toBe('ImplicitlyDenied');
    expect(await simulate(withKey, 'FunctionRole', 'kms:ScheduleKeyDeletion', KMS_KEY)).toBe('ImplicitlyDenied');
    // The key changes nothing else.
    expect(await simulate(withKey, 'FunctionRole', 's3:PutObject', object('silver/x.parquet'))).toBe('ExplicitlyDenied');
  });

  it('the state machine may invoke the function and nothing else; the schedule may start the state machine and nothing else', async () => {
    const { atts, refs } = resourceValues(generated);
    expect(await simulate(resolved, 'StateMachineRole', 'lambda:InvokeFunction', atts['Function.Arn'])).toBe('Allowed');
    expect(await simulate(resolved, 'StateMachineRole', 'lambda:InvokeFunction', `arn:aws:lambda:${REGION}:${ACCOUNT}:function:other`)).toBe('ImplicitlyDenied');
    expect(await simulate(resolved, 'StateMachineRole', 'lambda:UpdateFunctionCode', atts['Function.Arn'])).toBe('ImplicitlyDenied');
    expect(await simulate(resolved, 'ScheduleRole', 'states:StartExecution', refs.StateMachine)).toBe('Allowed');
    expect(await simulate(resolved, 'ScheduleRole', 'states:StartExecution', `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:other`)).toBe('ImplicitlyDenied');
    expect(await simulate(resolved, 'ScheduleRole', 'lambda:InvokeFunction', atts['Function.Arn'])).toBe('ImplicitlyDenied');
  });
});
