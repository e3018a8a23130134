import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTempProject } from '../helpers/temp-project.js';

/** `smelter debug`: the project, parse and the database checked; nothing created. */
const BIN = join(import.meta.dirname, '../../bin/smelter.js');
const smelter = (dir: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args, '--project-dir', dir], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('smelter debug', () => {
  it('reports each check; a database not created yet is tried in memory and not created', () => {
    const dir = writeTempProject({
      'project.yml': "name: dbg\ntargets:\n  dev: { database: target/dev.duckdb, settings: { memory_limit: '1GB' } }\n",
      'models/a.sql': 'select 1 as id',
      'seeds/s.csv': 'x\n1\n',
    });
    const r = smelter(dir, 'debug');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      'project   OK  project.yml: dbg, target dev',
      'parse     OK  1 seed, 1 model',
      expect.stringMatching(/^database  OK  DuckDB v\d+\.\d+\.\d+, target\/dev\.duckdb \(not created yet: the first run creates it; its settings were tried in memory\)$/),
      'storage   OK  none (external models are not available)',
      'state     OK  local (a table in the database)',
      'All checks passed',
      '',
    ]);
    expect(existsSync(join(dir, 'target/dev.duckdb'))).toBe(false);
  });

  it('fails the checks that do not hold: a broken model, a setting DuckDB refuses', () => {
    const dir = writeTempProject({
      'project.yml': "name: dbg\ntargets:\n  dev: { database: target/dev.duckdb, settings: { no_such_setting: 1 } }\n",
      'models/a.sql': "select * from {{ ref('missing') }}",
    });
    const r = smelter(dir, 'debug');
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines[1]).toBe("parse     ERROR  models/a.sql:1: ref('missing'): no model or seed named missing");
    expect(lines[2]).toMatch(/^database  ERROR  cannot open the database with the target's settings: .*no_such_setting/);
    expect(lines.at(-2)).toBe('2 checks failed');
    writeFileSync(join(dir, 'project.yml'), 'name: dbg\ntargets: [\n');
    const broken = smelter(dir, 'debug');
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^project  ERROR  project\.yml:\d+:\d+: /);
  });
});
