import { describe, expect, it } from 'vitest';
import { loadProject } from '../../runtime/project/load-project.js';
import { ProjectError } from '../../runtime/errors.js';
import { writeTempProject } from '../helpers/temp-project.js';

function load(projectYml: string, options: { target?: string; vars?: Record<string, unknown>; env?: NodeJS.ProcessEnv; files?: Record<string, string> } = {}) {
  const dir = writeTempProject({ 'project.yml': projectYml, 'models/gold/a.sql': 'select 1', ...(options.files ?? {}) });
  return { dir, ...loadProject(dir, { target: options.target, vars: options.vars, env: options.env ?? {} }) };
}

function loadError(projectYml: string, options: Parameters<typeof load>[1] = {}): string {
  try {
    load(projectYml, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ProjectError);
    return (error as ProjectError).format();
  }
  throw new Error('expected a ProjectError');
}

const TARGETS = `name: congress_gold
vars:
  lookback_days: 90
  as_of: null
  silver_root: data/silver
target: dev
targets:
  dev:
    database: target/dev.duckdb
    threads: 2
    settings: { memory_limit: 1GB }
    vars: { silver_root: data/local }
  aws:
    database: ":memory:"
    storage: "s3://{{ env_var('S3_BUCKET_NAME') }}"
    state: { backend: dynamodb, table: "{{ env_var('WATERMARK_TABLE') }}", lease_seconds: 900 }
    vars: { silver_root: "s3://{{ env_var('S3_BUCKET_NAME') }}/silver" }
`;

describe('project.yml', () => {
  it('loads the active target and its vars, without rendering the others', () => {
    const { config, varValues, dir } = load(TARGETS);
    expect(config.target).toEqual({
      name: 'dev',
      schema: 'main',
      cacheMaxBytes: undefined,
      database: 'target/dev.duckdb',
      databasePath: `${dir}/target/dev.duckdb`,
      threads: 2,
      settings: { memory_limit: '1GB' },
      storage: undefined,
      state: { backend: 'local', table: undefined, lease_seconds: undefined },
      vars: { silver_root: 'data/local' },
    });
    expect(varValues).toEqual({ lookback_days: 90, as_of: null, silver_root: 'data/local' });
  });

  it('renders env_var() in the active target', () => {
    const { config, varValues } = load(TARGETS, { target: 'aws', env: { S3_BUCKET_NAME: 'bkt', WATERMARK_TABLE: 'wm' } });
    expect(config.target.storage).toBe('s3://bkt');
    expect(config.target.state).toEqual({ backend: 'dynamodb', table: 'wm', lease_seconds: 900 });
    expect(varValues.silver_root).toBe('s3://bkt/silver');
  });

  it('reports a missing environment variable at its line', () => {
    expect(loadError(TARGETS, { target: 'aws', env: { WATERMARK_TABLE: 'wm' } })).toBe(
      "project.yml:15:5: targets.aws.storage: environment variable S3_BUCKET_NAME is not set (set it, or give a default: env_var('S3_BUCKET_NAME', '...'))",
    );
  });

  it('applies --vars to declared vars only, with their types', () => {
    expect(load(TARGETS, { vars: { lookback_days: 30, as_of: '2025-01-01' } }).varValues).toMatchObject({ lookback_days: 30, as_of: '2025-01-01' });
    expect(loadError(TARGETS, { vars: { lookback_dayz: 30 } })).toBe("--vars sets 'lookback_dayz', which project.yml does not declare (did you mean lookback_days?)");
    expect(loadError(TARGETS, { vars: { lookback_days: 'thirty' } })).toBe('--vars \'lookback_days\' must be a number, got "thirty"');
  });

  it('rejects an unknown target with a hint', () => {
    expect(loadError(TARGETS, { target: 'deev' })).toBe("--target 'deev' is not defined in project.yml (did you mean dev?)");
  });

  it('names file, line and key for unknown and mistyped keys', () => {
    expect(loadError('name: p\nmodel-path: [models]\n')).toBe("project.yml:2:1: unknown key 'model-path' (did you mean model-paths?)");
    expect(loadError('name: p\ntargets:\n  dev:\n    threads: two\n')).toBe('project.yml:4:5: targets.dev.threads must be a positive integer, got "two"');
    expect(loadError('name: p\ntargets:\n  dev:\n    databse: x.duckdb\n')).toBe("project.yml:4:5: unknown target key 'databse' in targets.dev (did you mean database?)");
  });

  it('reports YAML syntax errors with line and column', () => {
    expect(loadError('name: p\nvars: [a, b\n')).toBe('project.yml:2:12: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]');
  });

  it('validates folder config: + keys, folders, and plain config keys', () => {
    const ok = load('name: p\nmodels:\n  +schema: base\n  gold:\n    +materialized: table\n    tags: [g]\n');
    expect(ok.config.models).toEqual({ config: { schema: 'base' }, folders: { gold: { config: { materialized: 'table', tags: ['g'] }, folders: {} } } });
    expect(loadError('name: p\nmodels:\n  golld:\n    +materialized: table\n')).toBe(
      'project.yml:3:3: no folder models/golld and no config key golld (did you mean gold?)',
    );
    expect(loadError('name: p\nmodels:\n  gold:\n    +materialised: table\n')).toBe(
      "project.yml:4:5: unknown config key 'materialised' in models.gold.+materialised (did you mean materialized?)",
    );
    expect(loadError('name: p\nmodels:\n  gold:\n    +materialized: tabel\n')).toBe(
      'project.yml:4:5: models.gold.+materialized must be one of \'view\', \'table\', \'ephemeral\', \'incremental\', \'scd2\', got "tabel"',
    );
  });

  it('resolves paths against the project directory', () => {
    const { config, dir } = load('name: p\ntargets:\n  dev: { database: "db/x.duckdb" }\n');
    expect(config.target.databasePath).toBe(`${dir}/db/x.duckdb`);
    expect(config.modelPaths).toEqual(['models']);
  });

  it('requires a project.yml', () => {
    expect(() => loadProject('/nonexistent-dir')).toThrow('no project.yml or dbt_project.yml in /nonexistent-dir');
  });
});
