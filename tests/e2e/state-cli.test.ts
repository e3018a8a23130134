import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTempProject } from '../helpers/temp-project.js';

const BIN = join(import.meta.dirname, '../../bin/smelter.js');
const smelter = (dir: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args, '--project-dir', dir], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

function project(onSchemaChange = 'ignore'): string {
  return writeTempProject({
    'project.yml': 'name: st\ntargets:\n  dev: { database: target/dev.duckdb }\n',
    'models/sources.yml': "version: 2\nsources:\n  - name: landing\n    external_location: data/landing.csv\n    tables:\n      - name: rows\n",
    'models/orders.sql': `{{ config(materialized='incremental', watermark='id', on_schema_change='${onSchemaChange}') }}\nselect * from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where id > {{ watermark() }}{% endif %}\n`,
    'models/plain.sql': 'select 1 as x',
    'data/landing.csv': 'id,v\n1,a\n2,b\n',
  });
}

describe('smelter state', () => {
  it('show prints the records; reset makes the next run rebuild from scratch', () => {
    const dir = project();
    expect(smelter(dir, 'run').code).toBe(0);
    writeFileSync(join(dir, 'data/landing.csv'), 'id,v\n1,a\n2,b\n3,c\n');
    expect(smelter(dir, 'run', '--select', 'orders').stdout).toMatch(/^1 of 1 OK incremental main\.orders \.+ \[1 row in \d+\.\d\ds\]$/m);

    const show = smelter(dir, 'state', 'show', '--output', 'json');
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toEqual([
      {
        table_name: 'main.orders',
        watermark_type: 'max_id',
        watermark_data_type: 'BIGINT',
        last_processed_value: '3',
        last_processed_timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        rows_processed: 1,
        rows_total: 3,
        version: 2,
        run_id: expect.any(String),
        manifest_pointer: null,
        batches: null,
      },
    ]);
    const text = smelter(dir, 'state', 'show').stdout.split('\n');
    expect(text[0]).toBe('table_name   watermark  value       rows_processed  rows_total  committed                 version  batches');
    expect(text[1]).toMatch(/^main\.orders  max_id     3 \(BIGINT\)  1               3           \S+  2        -$/);

    expect(smelter(dir, 'state', 'reset', '--select', 'orders plain')).toEqual({
      code: 0,
      stdout: 'Reset the state of main.orders: the next run rebuilds it\n',
      stderr: '',
    });
    // A reset record replaces the committed one: it is shown, and its version continues.
    expect(JSON.parse(smelter(dir, 'state', 'show', '--output', 'json').stdout)).toEqual([
      expect.objectContaining({ table_name: 'main.orders', origin: 'reset', version: 3, last_processed_value: null, manifest_pointer: null }),
    ]);
    expect(smelter(dir, 'state', 'show').stdout.split('\n')[1]).toMatch(/^main\.orders  -          -      0               0           reset \S+  3        -$/);
    expect(smelter(dir, 'run', '--select', 'orders').stdout).toMatch(/\[3 rows in /);
    expect(JSON.parse(smelter(dir, 'state', 'show', '--output', 'json').stdout)).toEqual([
      expect.objectContaining({ table_name: 'main.orders', last_processed_value: '3', rows_total: 3, version: 4 }),
    ]);
  });

  it('reset without --select is a usage error and changes nothing', () => {
    const dir = project();
    expect(smelter(dir, 'run').code).toBe(0);
    expect(smelter(dir, 'state', 'reset')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: state reset needs --select: it forgets the state of the models you name (e.g. smelter state reset --select fact_orders)\n',
    });
    expect(JSON.parse(smelter(dir, 'state', 'show', '--output', 'json').stdout)).toHaveLength(1);
  });

  it('an unknown state command and an unknown on_schema_change policy are errors (exit 2)', () => {
    const dir = project('merge_columns');
    expect(smelter(dir, 'state', 'shwo')).toEqual({ code: 2, stdout: '', stderr: "error: unknown state command 'shwo' (did you mean show?)\n" });
    expect(smelter(dir, 'run')).toEqual({
      code: 2,
      stdout: '',
      stderr:
        "error: models/orders.sql:1:4: config on_schema_change must be one of 'ignore', 'fail', 'append_new_columns', 'sync_all_columns', got \"merge_columns\"\n",
    });
  });
});
