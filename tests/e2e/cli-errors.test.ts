/**
 * Deliberately broken projects (tests/fixtures/broken-*), one problem each: the exact message on
 * stderr (`error: <file>:<line>[:<col>]: <message> (<hint>)`), exit code 2 (SPEC §8, §10), nothing
 * on stdout, and no database created.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { fixtureCopier, lines, smelter, writeText } from '../helpers/cli.js';

const copy = fixtureCopier();

/** Variables the broken-env-var fixture reads; never inherited from the developer's shell. */
const CLEAN_ENV = { SMELTER_E2E_DB_PATH: undefined, SMELTER_E2E_BUCKET: undefined, SMELTER_E2E_TABLE: undefined };

interface Case {
  readonly fixture: string;
  readonly stderr: readonly string[];
}

/** Errors found while loading or parsing: every command reports them the same way, before any database work. */
const PARSE_ERRORS: Record<string, Case> = {
  'a YAML syntax error in project.yml': {
    fixture: 'broken-yaml-syntax',
    stderr: ['error: project.yml:5:4: invalid YAML: All mapping items must start at the same column'],
  },
  'an unknown top-level key, with did-you-mean': {
    fixture: 'broken-unknown-key',
    stderr: ["error: project.yml:4:1: unknown key 'modles' (did you mean models?)"],
  },
  'a value of the wrong type (threads: "two")': {
    fixture: 'broken-wrong-type',
    stderr: ['error: project.yml:6:5: targets.dev.threads must be a positive integer, got "two"'],
  },
  'a models: key that is neither a folder nor a config key': {
    fixture: 'broken-folder',
    stderr: ['error: project.yml:5:3: no folder models/golld and no config key golld (did you mean gold?)'],
  },
  'an unknown +config key in a folder': {
    fixture: 'broken-config-key',
    stderr: ["error: project.yml:5:5: unknown config key 'materialised' in models.gold.+materialised (did you mean materialized?)"],
  },
  "an unknown key in a model's config() call": {
    fixture: 'broken-model-config',
    stderr: ["error: models/order_totals.sql:1:4: unknown config key 'uniqe_key' (did you mean unique_key?)"],
  },
  'a ref() to a model that does not exist': {
    fixture: 'broken-ref',
    stderr: ["error: models/fact_trades.sql:3: ref('dim_members'): no model or seed named dim_members (did you mean dim_member?)"],
  },
  'a source() that is not declared': {
    fixture: 'broken-source',
    stderr: ["error: models/stg_transactions.sql:2: source('silver', 'transaction'): no such source table (did you mean silver.transactions?)"],
  },
  'a dependency cycle': {
    fixture: 'broken-cycle',
    stderr: ['error: models/a.sql: dependency cycle: a -> b -> a'],
  },
  'two models with one name in two folders': {
    fixture: 'broken-duplicate',
    stderr: ["error: models/staging/orders.sql: two nodes are named 'orders': models/gold/orders.sql and models/staging/orders.sql"],
  },
  'external: true on a view': {
    fixture: 'broken-external-view',
    stderr: ['error: models/orders.sql:1:4: external: true is only for table, incremental and scd2 models, not view'],
  },
  'a missing environment variable without default in the active target': {
    fixture: 'broken-env-var',
    stderr: [
      "error: project.yml:5:5: targets.dev.database: environment variable SMELTER_E2E_DB_PATH is not set (set it, or give a default: env_var('SMELTER_E2E_DB_PATH', '...'))",
    ],
  },
};

describe.concurrent('project errors: exit 2, one located message, no database', () => {
  for (const [what, c] of Object.entries(PARSE_ERRORS)) {
    it(`ls and run report ${what}`, async ({ expect }) => {
      const dir = copy(c.fixture);
      const ls = await smelter(['ls'], { projectDir: dir, env: CLEAN_ENV });
      expect({ code: ls.code, stdout: ls.stdout, stderr: lines(ls.stderr) }).toEqual({ code: 2, stdout: '', stderr: c.stderr });
      const run = await smelter(['run'], { projectDir: dir, env: CLEAN_ENV });
      expect({ code: run.code, stdout: run.stdout, stderr: lines(run.stderr) }).toEqual({ code: 2, stdout: '', stderr: c.stderr });
      expect(existsSync(join(dir, 'target', 'dev.duckdb'))).toBe(false);
    });
  }
});

describe.concurrent('template errors found by compile', () => {
  const cases: Record<string, Case> = {
    'a misspelled variable in an {% if %} condition': {
      fixture: 'broken-if-variable',
      stderr: ["error: models/orders.sql:2:7: 'targt' is undefined (did you mean target?)"],
    },
    'a misspelled macro name': {
      fixture: 'broken-macro-name',
      stderr: ["error: models/orders.sql:3:8: 'cent' is undefined (did you mean cents?)"],
    },
    'an undeclared var without default': {
      fixture: 'broken-undeclared-var',
      stderr: ["error: models/recent_orders.sql:2:34: var 'lookback_day' is not declared in project.yml and has no default (did you mean lookback_days?)"],
    },
  };
  for (const [what, c] of Object.entries(cases)) {
    it(`compile reports ${what} at its file and line`, async ({ expect }) => {
      const dir = copy(c.fixture);
      const compile = await smelter(['compile'], { cwd: dir });
      expect({ code: compile.code, stdout: lines(compile.stdout), stderr: lines(compile.stderr) }).toEqual({
        code: 2,
        stdout: ['Compiled 0 models to target/compiled/; 1 failed'],
        stderr: c.stderr,
      });
    });
  }

  it('run reports it as a failed model (exit 1)', async ({ expect }) => {
    const dir = copy('broken-macro-name');
    const run = await smelter(['run'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('');
    expect(lines(run.stdout).map((l) => l.replace(/\d+\.\d\ds/g, 'Ns'))).toEqual([
      'Running 1 model with 1 thread',
      '1 of 1 ERROR view main.orders .............................. [ERROR in Ns]',
      'Finished 1 model in Ns: 0 OK, 1 ERROR, 0 SKIP',
      "  orders: models/orders.sql:3:8: 'cent' is undefined (did you mean cents?)",
    ]);
  });
});

describe.concurrent('a template syntax error', () => {
  // Parse must find it (dbt's parse does): every command exits 2 before touching the database, and
  // the location is the unclosed {% if %}, not 1:1; nunjucks' internal function name (parseIf) is noise.
  const expected = ['error: models/orders.sql:2:4: template syntax error: expected elif, else, or endif, got end of file'];

  it('is reported by compile at the unclosed tag', async ({ expect }) => {
    const dir = copy('broken-template-syntax');
    const compile = await smelter(['compile'], { cwd: dir });
    expect({ code: compile.code, stderr: lines(compile.stderr) }).toEqual({ code: 2, stderr: expected });
  });

  it('is a project error for ls and run (exit 2, no database)', async ({ expect }) => {
    const dir = copy('broken-template-syntax');
    const ls = await smelter(['ls'], { projectDir: dir });
    expect({ code: ls.code, stdout: ls.stdout, stderr: lines(ls.stderr) }).toEqual({ code: 2, stdout: '', stderr: expected });
    const run = await smelter(['run'], { projectDir: dir });
    expect({ code: run.code, stdout: run.stdout, stderr: lines(run.stderr) }).toEqual({ code: 2, stdout: '', stderr: expected });
    expect(existsSync(join(dir, 'target', 'dev.duckdb'))).toBe(false);
  });

  it('inside an expression is located at the bad token', async ({ expect }) => {
    const dir = copy('broken-template-syntax');
    writeText(join(dir, 'models', 'orders.sql'), "select 1 as order_id from {{ ref('customers' }}\n");
    const ls = await smelter(['ls'], { projectDir: dir });
    expect({ code: ls.code, stderr: lines(ls.stderr) }).toEqual({
      code: 2,
      stderr: ["error: models/orders.sql:1:46: template syntax error: expected ',' or ')' after an argument"],
    });
  });
});

describe.concurrent('environment variables in targets', () => {
  it('only the active target is rendered: a missing variable of another target does not matter', async ({ expect }) => {
    const dir = copy('broken-env-var');
    const env = { ...CLEAN_ENV, SMELTER_E2E_DB_PATH: 'target/from-env.duckdb' };
    const ls = await smelter(['ls'], { projectDir: dir, env });
    expect({ code: ls.code, stdout: lines(ls.stdout), stderr: ls.stderr }).toEqual({ code: 0, stdout: ['orders'], stderr: '' });
    const run = await smelter(['run'], { projectDir: dir, env });
    expect(run.code).toBe(0);
    expect(existsSync(join(dir, 'target', 'from-env.duckdb'))).toBe(true);
  });

  it('the other target reports its own missing variable when it is chosen with --target', async ({ expect }) => {
    const dir = copy('broken-env-var');
    const ls = await smelter(['ls', '--target', 'aws'], { projectDir: dir, env: { ...CLEAN_ENV, SMELTER_E2E_DB_PATH: 'x.duckdb' } });
    expect({ code: ls.code, stdout: ls.stdout, stderr: lines(ls.stderr) }).toEqual({
      code: 2,
      stdout: '',
      stderr: [
        "error: project.yml:9:5: targets.aws.storage: environment variable SMELTER_E2E_BUCKET is not set (set it, or give a default: env_var('SMELTER_E2E_BUCKET', '...'))",
      ],
    });
  });
});

describe.concurrent('other located errors', () => {
  it('a ref() to a disabled model says it is disabled', async ({ expect }) => {
    const dir = copy('broken-ref');
    writeText(join(dir, 'models', 'dim_member.sql'), "{{ config(enabled=false) }}\nselect 1 as member_key\n");
    writeText(join(dir, 'models', 'fact_trades.sql'), "select * from {{ ref('dim_member') }}\n");
    const ls = await smelter(['ls'], { projectDir: dir });
    expect({ code: ls.code, stderr: lines(ls.stderr) }).toEqual({
      code: 2,
      stderr: ["error: models/fact_trades.sql:1: ref('dim_member'): model dim_member is disabled (enabled: false)"],
    });
  });

  it('a ref() to a disabled seed says it is a disabled seed', async ({ expect }) => {
    const dir = copy('broken-ref');
    writeText(join(dir, 'seeds', 'members.csv'), 'member_key,name\n1,Ann\n');
    writeText(join(dir, 'models', 'schema.yml'), 'version: 2\nseeds:\n  - name: members\n    config:\n      enabled: false\n');
    writeText(join(dir, 'models', 'fact_trades.sql'), "select * from {{ ref('members') }}\n");
    const ls = await smelter(['ls'], { projectDir: dir });
    expect({ code: ls.code, stderr: lines(ls.stderr) }).toEqual({
      code: 2,
      stderr: ["error: models/fact_trades.sql:1: ref('members'): seed members is disabled (enabled: false)"],
    });
  });

  it('an unknown config key in a YAML properties file', async ({ expect }) => {
    const dir = copy('broken-ref');
    writeText(join(dir, 'models', 'fact_trades.sql'), 'select 1 as x\n');
    writeText(join(dir, 'models', 'schema.yml'), 'version: 2\nmodels:\n  - name: dim_member\n    config:\n      materialzed: table\n');
    const ls = await smelter(['ls'], { projectDir: dir });
    expect({ code: ls.code, stderr: lines(ls.stderr) }).toEqual({
      code: 2,
      stderr: ["error: models/schema.yml:5:7: unknown config key 'materialzed' (did you mean materialized?)"],
    });
  });

  it('several parse errors are reported together, one line each', async ({ expect }) => {
    const dir = copy('broken-ref');
    writeText(join(dir, 'models', 'other.sql'), "select * from {{ ref('dim_membr') }}\n");
    const ls = await smelter(['ls'], { projectDir: dir });
    expect({ code: ls.code, stderr: lines(ls.stderr) }).toEqual({
      code: 2,
      stderr: [
        "error: models/fact_trades.sql:3: ref('dim_members'): no model or seed named dim_members (did you mean dim_member?)",
        "error: models/other.sql:1: ref('dim_membr'): no model or seed named dim_membr (did you mean dim_member?)",
      ],
    });
  });

  it('a misspelled attribute of target: located at its line, with a hint', async ({ expect }) => {
    const dir = copy('broken-if-variable');
    writeText(join(dir, 'models', 'orders.sql'), "select 1 as order_id\nwhere {{ target.nmae == 'prod' }}\n");
    const compile = await smelter(['compile'], { cwd: dir });
    expect(compile.code).toBe(2);
    expect(lines(compile.stderr)).toEqual(["error: models/orders.sql:2:17: 'target' has no attribute 'nmae' (did you mean name?)"]);
  });

  it('an unknown filter: located, with a hint', async ({ expect }) => {
    const dir = copy('broken-if-variable');
    writeText(join(dir, 'models', 'orders.sql'), "select 1 as order_id,\n    '{{ target.name | uper }}' as env\n");
    const compile = await smelter(['compile'], { cwd: dir });
    expect(compile.code).toBe(2);
    expect(lines(compile.stderr)).toEqual(["error: models/orders.sql:2:23: unknown filter 'uper' (did you mean upper?)"]);
  });

  it('a folder of models: given a value that is not a mapping', async ({ expect }) => {
    const dir = copy('broken-folder');
    writeText(join(dir, 'project.yml'), 'name: broken\nmodels:\n  gold: table\n');
    const ls = await smelter(['ls'], { projectDir: dir });
    expect({ code: ls.code, stderr: lines(ls.stderr) }).toEqual({ code: 2, stderr: ['error: project.yml:3:3: models.gold must be a mapping'] });
  });

  it('no stack trace for a user error unless --debug', async ({ expect }) => {
    const dir = copy('broken-ref');
    const plain = await smelter(['ls'], { projectDir: dir });
    expect(lines(plain.stderr)).toHaveLength(1);
    const debug = await smelter(['ls', '--debug'], { projectDir: dir });
    expect(debug.code).toBe(2);
    const debugLines = lines(debug.stderr);
    expect(debugLines[0]).toBe(lines(plain.stderr)[0]);
    expect(debugLines.slice(1).some((l) => /^\s+at /.test(l))).toBe(true);
  });

  it('a project directory without project.yml', async ({ expect }) => {
    const dir = copy('broken-ref');
    const models = join(dir, 'models');
    const ls = await smelter(['ls'], { projectDir: models });
    expect({ code: ls.code, stderr: lines(ls.stderr) }).toEqual({
      code: 2,
      stderr: [`error: no project.yml or dbt_project.yml in ${models} (run smelter in a project directory or pass --project-dir DIR)`],
    });
  });
});
