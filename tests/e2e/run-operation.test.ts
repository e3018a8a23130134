import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { queryDuckDB } from '../helpers/duckdb.js';
import { writeTempProject } from '../helpers/temp-project.js';

/** `smelter run-operation MACRO --args YAML`: a macro's queries in one transaction on the target's database. */
const BIN = join(import.meta.dirname, '../../bin/smelter.js');
const smelter = (dir: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args, '--project-dir', dir], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

const MACROS = [
  '{% macro grant_select(role, tables=[]) %}',
  "{% do run_query('create table if not exists main.grants (role varchar, tbl varchar)') %}",
  "{% for t in tables %}{% do run_query(\"insert into main.grants values ('\" ~ role ~ \"', '\" ~ t ~ \"')\") %}{% endfor %}",
  "{{ log('granted ' ~ tables | length ~ ' tables to ' ~ role) }}",
  '{% endmacro %}',
  '{% macro drop_then_fail() %}',
  "{% do run_query('drop table main.keep') %}",
  "{{ exceptions.raise_compiler_error('stopped after the drop') }}",
  '{% endmacro %}',
].join('\n');

function project(): string {
  return writeTempProject({
    'project.yml': 'name: ops\non-run-start: ["create table if not exists main.keep as select 1 as x"]\ntargets:\n  dev: { database: target/dev.duckdb }\n',
    'models/a.sql': 'select 1 as id',
    'macros/ops.sql': MACROS,
  });
}

describe('smelter run-operation', () => {
  it('calls the macro with --args; its queries run once each, its log prints once', async () => {
    const dir = project();
    const r = smelter(dir, 'run-operation', 'grant_select', '--args', '{role: analyst, tables: [a, b]}');
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: '', stderr: 'granted 2 tables to analyst\n' });
    expect(await queryDuckDB(join(dir, 'target/dev.duckdb'), 'select role, tbl from main.grants order by tbl')).toEqual([
      { role: 'analyst', tbl: 'a' },
      { role: 'analyst', tbl: 'b' },
    ]);
  });

  it('rolls back what a failing macro did, and names the failure', async () => {
    const dir = project();
    expect(smelter(dir, 'run').code).toBe(0);
    const r = smelter(dir, 'run-operation', 'drop_then_fail');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('stopped after the drop');
    expect(await queryDuckDB(join(dir, 'target/dev.duckdb'), 'select x from main.keep')).toEqual([{ x: 1 }]);
  });

  it('refuses an unknown macro (with a did-you-mean), a missing name and --args that are not a mapping', () => {
    const dir = project();
    expect(smelter(dir, 'run-operation', 'grant_selct')).toMatchObject({ code: 2, stderr: "error: no macro named 'grant_selct' in the project or its packages (did you mean grant_select?)\n" });
    expect(smelter(dir, 'run-operation').stderr).toContain('error: run-operation needs a macro name');
    expect(smelter(dir, 'run-operation', 'grant_select', '--args', '[1, 2]').stderr).toContain("error: --args must be a YAML mapping, e.g. --args '{lookback_days: 30}'");
  });
});
