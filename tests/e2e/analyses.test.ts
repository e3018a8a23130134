import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTempProject } from '../helpers/temp-project.js';

/** Analyses (analyses/): compiled with the models, listed, never run. */
const BIN = join(import.meta.dirname, '../../bin/smelter.js');
const smelter = (dir: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args, '--project-dir', dir], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

function project(): string {
  return writeTempProject({
    'project.yml': 'name: an\nvars:\n  top: 3\ntargets:\n  dev: { database: target/dev.duckdb }\n',
    'macros/limit_to.sql': '{% macro limit_to(n) %}limit {{ n }}{% endmacro %}',
    'models/orders.sql': "{{ config(materialized='table') }}\nselect 1 as id, 10 as amount",
    'analyses/top_orders.sql': "select * from {{ ref('orders') }} order by amount desc {{ limit_to(var('top')) }}\n",
  });
}

describe('analyses', () => {
  it('compile renders them to target/compiled/analyses/ with refs, macros and vars; ls lists them; run does not run them', () => {
    const dir = project();
    const compiled = smelter(dir, 'compile');
    expect({ code: compiled.code, stdout: compiled.stdout }).toEqual({ code: 0, stdout: 'Compiled 1 model and 1 analysis to target/compiled/\n' });
    expect(readFileSync(join(dir, 'target/compiled/analyses/top_orders.sql'), 'utf8')).toBe('select * from "main"."orders" order by amount desc limit 3\n');
    const manifest = JSON.parse(readFileSync(join(dir, 'target/manifest.json'), 'utf8')) as { nodes: Record<string, { resource_type: string; depends_on: { nodes: string[]; macros: string[] } }> };
    expect(manifest.nodes['analysis.an.top_orders']).toMatchObject({ resource_type: 'analysis', depends_on: { nodes: ['model.an.orders'], macros: ['macro.an.limit_to'] } });

    expect(smelter(dir, 'ls', '--select', 'resource_type:analysis').stdout).toBe('top_orders\n');
    expect(smelter(dir, 'ls', '--select', 'orders+').stdout).toBe('top_orders\norders\n');
    const run = smelter(dir, 'run', '--select', 'orders+');
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe('Running 1 model with 1 thread');
  });

  it('refuses a ref to nothing, and a ref with a non-literal argument, at their lines', () => {
    const dir = project();
    writeFileSync(join(dir, 'analyses/top_orders.sql'), "select 1\nfrom {{ ref('ordrs') }}\n");
    const r = smelter(dir, 'compile');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: analyses/top_orders.sql:2: ref('ordrs'): no model or seed named ordrs (did you mean orders?)");
    writeFileSync(join(dir, 'analyses/top_orders.sql'), "select 1 from {{ ref(var('t')) }}\n");
    expect(smelter(dir, 'compile').stderr).toContain('error: analyses/top_orders.sql:1:');
    expect(existsSync(join(dir, 'target/compiled/analyses/top_orders.sql'))).toBe(false);
  });
});
