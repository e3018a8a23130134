import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { join } from 'node:path';
import { queryDuckDB } from '../helpers/duckdb.js';
import { CRASH_POINTS } from '../../runtime/execute/crash-points.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * External (Parquet) table models on local storage: the files, the view over them, ref() from
 * downstream, and the publish protocol under a SIGKILL at every named crash point.
 */

const BIN = join(import.meta.dirname, '../../bin/smelter.js');

function project(): string {
  return writeTempProject({
    // One thread: dim (first in order) commits before facts is killed, so a run that committed one
    // model and died in another is always exercised.
    'project.yml': 'name: ext\nvars: { n: 4 }\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }\n# These tests look at the files each commit leaves: superseded ones go at once.\nmodels: { +retain_superseded: 0 }\n',
    'models/facts.sql': "{{ config(materialized='table', external=true, schema='gold', partition_by=['grp']) }}\nselect i as id, i % 2 as grp from range({{ var('n') }}) t(i)\n",
    'models/dim.sql': "{{ config(materialized='table', external=true, schema='gold') }}\nselect i as id, 'm' || i as name from range({{ var('n') }}) t(i)\n",
    'models/report.sql': "select f.grp, count(*) as n, string_agg(d.name, ',' order by d.name) as names from {{ ref('facts') }} f join {{ ref('dim') }} d using (id) group by all order by 1\n",
  });
}

function smelter(dir: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args, '--project-dir', dir], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function files(dir: string, sub: string): string[] {
  const base = join(dir, 'target/lake', sub);
  if (!existsSync(base)) return [];
  return (readdirSync(base, { recursive: true }) as string[]).filter((f) => f.endsWith('.parquet')).sort();
}

/**
 * The files of the newest manifest of `table` (after a complete run, the only one: the committed
 * one). Each file's recorded size and SHA-256 must be those of the file in the model's location.
 */
function committed(dir: string, table: string): string[] {
  const manifests = join(dir, 'target/lake/.smelter/manifests', table);
  const newest = readdirSync(manifests).sort((a, b) => Number(a.slice(1, -5)) - Number(b.slice(1, -5))).pop()!;
  const manifest = JSON.parse(readFileSync(join(manifests, newest), 'utf8')) as { location: string; files: Array<{ name: string; bytes: number; sha256: string }> };
  for (const file of manifest.files) {
    const path = join(dir, 'target/lake', manifest.location, file.name);
    if (!existsSync(path)) continue; // a publish the test interrupted: the file is still staged
    const bytes = readFileSync(path);
    expect({ file: file.name, bytes: file.bytes, sha256: file.sha256 }).toEqual({ file: file.name, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  return manifest.files.map((f) => f.name).sort();
}

const query = (dir: string, sql: string) => queryDuckDB(join(dir, 'target/dev.duckdb'), sql);

const REPORT_4 = [
  { grp: '0', n: '2', names: 'm0,m2' },
  { grp: '1', n: '2', names: 'm1,m3' },
];
const REPORT_6 = [
  { grp: '0', n: '3', names: 'm0,m2,m4' },
  { grp: '1', n: '3', names: 'm1,m3,m5' },
];

describe('external tables', () => {
  it('write ZSTD Parquet under {storage}/{schema}/{alias}, Hive-partitioned; a view and ref() read exactly the committed files', async () => {
    const dir = project();
    expect(smelter(dir, ['run']).code).toBe(0);
    const first = files(dir, 'gold/facts');
    expect(first).toEqual(committed(dir, 'gold.facts'));
    expect(first.map((f) => f.replace(/[0-9a-f]{12}-/, 'RUN-'))).toEqual(['grp=0/RUN-data_0.parquet', 'grp=1/RUN-data_0.parquet']);
    expect(files(dir, 'gold/dim').map((f) => f.replace(/[0-9a-f]{12}-/, 'RUN-'))).toEqual(['RUN-data_0.parquet']);
    expect(await query(dir, 'select * from main.report')).toEqual(REPORT_4);
    expect(await query(dir, 'select id, name from gold.dim order by id')).toEqual([
      { id: '0', name: 'm0' },
      { id: '1', name: 'm1' },
      { id: '2', name: 'm2' },
      { id: '3', name: 'm3' },
    ]);
    expect(
      await query(dir, `select distinct compression from parquet_metadata('${join(dir, 'target/lake/gold/dim', files(dir, 'gold/dim')[0])}')`),
    ).toEqual([{ compression: 'ZSTD' }]);

    // A rebuild replaces the file set: the superseded files and manifest are gone.
    expect(smelter(dir, ['run', '--vars', '{n: 6}']).code).toBe(0);
    const second = files(dir, 'gold/facts');
    expect(second).toEqual(committed(dir, 'gold.facts'));
    expect(second.some((f) => first.includes(f))).toBe(false);
    expect(await query(dir, 'select * from main.report')).toEqual(REPORT_6);
    expect(readdirSync(join(dir, 'target/lake/.smelter/manifests/gold.facts'))).toEqual(['v2.json']);
    expect(files(dir, '.smelter/staging')).toEqual([]);
  });

  it('a run killed at any crash point leaves only committed files; a rerun equals an uninterrupted run', async () => {
    for (const point of CRASH_POINTS) {
      const dir = project();
      expect(smelter(dir, ['run']).code).toBe(0);
      const before = { facts: files(dir, 'gold/facts'), dim: files(dir, 'gold/dim') };
      const crashed = smelter(dir, ['run', '--vars', '{n: 6}'], { SMELTER_CRASH_AT: `${point}:facts` });
      expect({ point, signal: crashed.signal }).toEqual({ point, signal: 'SIGKILL' });
      // Never an uncommitted file in the location: each is in the old set or the one the state now points at.
      const [{ manifest_pointer: pointer }] = (await query(dir, `select manifest_pointer from "_smelter"."state" where table_name = 'gold.facts'`)) as Array<{
        manifest_pointer: string;
      }>;
      const nowCommitted = (JSON.parse(readFileSync(join(dir, 'target/lake', pointer), 'utf8')) as { files: Array<{ name: string }> }).files.map((f) => f.name);
      const allowed = new Set([...before.facts, ...nowCommitted]);
      expect({ point, stray: files(dir, 'gold/facts').filter((f) => !allowed.has(f)) }).toEqual({ point, stray: [] });

      expect({ point, code: smelter(dir, ['run', '--vars', '{n: 6}']).code }).toEqual({ point, code: 0 });
      expect({ point, files: files(dir, 'gold/facts') }).toEqual({ point, files: committed(dir, 'gold.facts') });
      expect({ point, report: await query(dir, 'select * from main.report') }).toEqual({ point, report: REPORT_6 });
      expect({ point, staging: files(dir, '.smelter/staging') }).toEqual({ point, staging: [] });
    }
  }, 120_000);

  it('a run that only reads an external model first finishes the publish a killed run left half done', async () => {
    const dir = project();
    expect(smelter(dir, ['run']).code).toBe(0);
    expect(smelter(dir, ['run', '--vars', '{n: 6}'], { SMELTER_CRASH_AT: 'mid-publish:facts' }).signal).toBe('SIGKILL');
    // Committed, half moved: the location lacks a committed file until someone finishes the publish.
    expect(files(dir, 'gold/facts')).not.toEqual(committed(dir, 'gold.facts'));
    expect(smelter(dir, ['run', '--select', 'report', '--vars', '{n: 6}']).code).toBe(0);
    expect(files(dir, 'gold/facts')).toEqual(committed(dir, 'gold.facts'));
    expect(await query(dir, 'select count(*) as n from gold.facts')).toEqual([{ n: '6' }]);
  });

  it('a view dropped by hand, or over a project that moved, is re-created by the next run', async () => {
    const dir = project();
    expect(smelter(dir, ['run']).code).toBe(0);
    const instance = await DuckDBInstance.create(join(dir, 'target/dev.duckdb'));
    const connection = await instance.connect();
    await connection.run('DROP VIEW gold.dim');
    connection.closeSync();
    instance.closeSync();
    expect(smelter(dir, ['run', '--select', 'report']).code).toBe(0);
    expect(await query(dir, 'select * from main.report')).toEqual(REPORT_4);

    // The views name the files by absolute path: after a move they must follow the files.
    const moved = `${dir}-moved`;
    cpSync(dir, moved, { recursive: true });
    rmSync(dir, { recursive: true });
    expect(smelter(moved, ['run', '--select', 'report']).code).toBe(0);
    expect(await query(moved, 'select count(*) as n from gold.dim')).toEqual([{ n: '4' }]);
    expect(await query(moved, 'select * from main.report')).toEqual(REPORT_4);
  });
});

describe('external incremental models', () => {
  const SOURCES = "version: 2\nsources:\n  - name: landing\n    external_location: data/landing.csv\n    tables:\n      - name: rows\n";
  function incProject(model: string): string {
    return writeTempProject({
      'project.yml': 'name: exi\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }\n# These tests look at the files each commit leaves: superseded ones go at once.\nmodels: { +retain_superseded: 0 }\n',
      'models/sources.yml': SOURCES,
      'models/fact.sql': model,
      'data/landing.csv': 'id\n',
    });
  }
  const land = (dir: string, csv: string) => writeFileSync(join(dir, 'data/landing.csv'), csv);
  const APPEND =
    "{{ config(materialized='incremental', external=true, watermark='id', on_schema_change='append_new_columns') }}\nselect * from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where id > {{ watermark() }}{% endif %}\n";

  it('append writes only new files; a new column reads back across old and new files', async () => {
    const dir = incProject(APPEND);
    land(dir, 'id,v\n1,a\n2,b\n');
    expect(smelter(dir, ['run']).code).toBe(0);
    const first = files(dir, 'main/fact');
    land(dir, 'id,v\n1,a\n2,b\n3,c\n');
    expect(smelter(dir, ['run']).code).toBe(0);
    land(dir, 'id,v,w\n3,c,x\n4,d,y\n');
    expect(smelter(dir, ['run']).code).toBe(0);
    const all = files(dir, 'main/fact');
    expect(all).toHaveLength(3);
    expect(all).toEqual(expect.arrayContaining(first));
    expect(all).toEqual(committed(dir, 'main.fact'));
    expect(await query(dir, 'select id, v, w from main.fact order by id')).toEqual([
      { id: '1', v: 'a', w: null },
      { id: '2', v: 'b', w: null },
      { id: '3', v: 'c', w: null },
      { id: '4', v: 'd', w: 'y' },
    ]);
    expect(await query(dir, `select last_processed_value, rows_processed, rows_total from "_smelter"."state"`)).toEqual([
      { last_processed_value: '4', rows_processed: '1', rows_total: '4' },
    ]);
  });

  it('an append with nothing new, or with a NULL key, commits nothing and leaves no staged file', async () => {
    const dir = incProject(
      "{{ config(materialized='incremental', external=true, watermark='seq', unique_key='id', incremental_strategy='append') }}\nselect * from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where seq > {{ watermark() }}{% endif %}\n",
    );
    land(dir, 'seq,id,v\n1,1,a\n2,2,b\n');
    expect(smelter(dir, ['run']).code).toBe(0);
    const first = files(dir, 'main/fact');
    const stateNow = () => query(dir, `select version, last_processed_value, rows_total from "_smelter"."state"`);
    const before = await stateNow();
    const idle = smelter(dir, ['run']);
    expect(idle.stdout).toContain('[0 rows in');
    expect(await stateNow()).toEqual(before);
    expect(files(dir, 'main/fact')).toEqual(first);
    expect(files(dir, '.smelter/staging')).toEqual([]);

    land(dir, 'seq,id,v\n1,1,a\n2,2,b\n3,3,c\n4,,d\n');
    const bad = smelter(dir, ['run']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('fact: 1 new row has a NULL in unique_key id; nothing was written');
    expect(await stateNow()).toEqual(before);
    expect(files(dir, 'main/fact')).toEqual(first);
    expect(files(dir, '.smelter/staging')).toEqual([]);
  });

  it('on_schema_change for an external append: ignore drops a new column, fail names it, sync_all_columns rewrites every file', async () => {
    const model = (policy: string) =>
      `{{ config(materialized='incremental', external=true, watermark='id', on_schema_change='${policy}') }}\nselect * from {{ source('landing', 'rows') }}\n{% if is_incremental() %}where id > {{ watermark() }}{% endif %}\n`;
    const days = ['id,v\n1,a\n', 'id,v\n1,a\n2,b\n', 'id,v,w\n3,c,x\n'];
    const runDays = (dir: string) => days.map((day) => (land(dir, day), smelter(dir, ['run'])));

    const ignore = incProject(model('ignore'));
    expect(runDays(ignore).map((r) => r.code)).toEqual([0, 0, 0]);
    expect(await query(ignore, 'select * from main.fact order by id')).toEqual([
      { id: '1', v: 'a' },
      { id: '2', v: 'b' },
      { id: '3', v: 'c' },
    ]);

    const fail = incProject(model('fail'));
    const failed = runDays(fail);
    expect(failed.map((r) => r.code)).toEqual([0, 0, 1]);
    expect(failed[2].stdout).toContain('fact: the columns changed (new w) and on_schema_change is fail; nothing was written');
    expect(await query(fail, 'select count(*) as n from main.fact')).toEqual([{ n: '2' }]);
    expect(files(fail, '.smelter/staging')).toEqual([]);

    const sync = incProject(model('sync_all_columns'));
    const results = runDays(sync);
    expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
    // Every row now has w, so the older files were rewritten into one new set.
    expect(files(sync, 'main/fact')).toEqual(committed(sync, 'main.fact'));
    expect(files(sync, 'main/fact')).toHaveLength(1);
    expect(await query(sync, 'select * from main.fact order by id')).toEqual([
      { id: '1', v: 'a', w: null },
      { id: '2', v: 'b', w: null },
      { id: '3', v: 'c', w: 'x' },
    ]);
  });

  it('merge rewrites only the files holding affected keys, over five batches', async () => {
    const dir = incProject("{{ config(materialized='incremental', external=true, unique_key='id') }}\nselect * from {{ source('landing', 'rows') }}\n");
    land(dir, 'id,status\n1,new\n2,new\n');
    expect(smelter(dir, ['run']).code).toBe(0);
    land(dir, 'id,status\n2,paid\n3,new\n');
    expect(smelter(dir, ['run']).code).toBe(0);
    land(dir, 'id,status\n1,void\n4,new\n');
    expect(smelter(dir, ['run']).code).toBe(0);
    // Each batch touched a key of the only file, so that file was rewritten each time.
    const third = files(dir, 'main/fact');
    expect(third).toEqual(committed(dir, 'main.fact'));
    expect(third).toHaveLength(1);
    // New keys only: no committed file holds one, so the committed file stays and a file is added.
    land(dir, 'id,status\n5,new\n');
    expect(smelter(dir, ['run']).code).toBe(0);
    const fourth = files(dir, 'main/fact');
    expect(fourth).toHaveLength(2);
    expect(fourth).toEqual(expect.arrayContaining(third));
    // A key in one file only: that file is rewritten, the other stays.
    land(dir, 'id,status\n5,paid\n');
    expect(smelter(dir, ['run']).code).toBe(0);
    const fifth = files(dir, 'main/fact');
    expect(fifth).toHaveLength(2);
    expect(fifth).toEqual(expect.arrayContaining(third));
    expect(fifth).toEqual(committed(dir, 'main.fact'));
    expect(await query(dir, 'select id, status from main.fact order by id')).toEqual([
      { id: '1', status: 'void' },
      { id: '2', status: 'paid' },
      { id: '3', status: 'new' },
      { id: '4', status: 'new' },
      { id: '5', status: 'paid' },
    ]);
    expect(await query(dir, `select rows_processed, rows_total from "_smelter"."state"`)).toEqual([{ rows_processed: '1', rows_total: '5' }]);
  });

  it('a run killed at any crash point, then rerun, equals an uninterrupted run; the location holds only committed files', async () => {
    const MERGE = "{{ config(materialized='incremental', external=true, unique_key='id') }}\nselect id, v from {{ source('landing', 'rows') }}\n";
    const batches = ['id,v\n1,a\n2,b\n', 'id,v\n2,b\n3,c\n', 'id,v\n3,c\n4,d\n5,e\n'];
    const expected = [1, 2, 3, 4, 5].map((id) => ({ id: String(id), v: 'abcde'[id - 1] }));
    // The append model passes the commit points and mid-publish; the merge model, whose second
    // batch rewrites a file, also mid-cleanup.
    for (const point of CRASH_POINTS) {
      const dir = incProject(APPEND);
      writeFileSync(join(dir, 'models/fact_merge.sql'), MERGE);
      for (const [b, csv] of batches.entries()) {
        land(dir, csv);
        if (b === 1) expect({ point, signal: smelter(dir, ['run'], { SMELTER_CRASH_AT: point }).signal }).toEqual({ point, signal: 'SIGKILL' });
        expect({ point, b, code: smelter(dir, ['run']).code }).toEqual({ point, b, code: 0 });
      }
      expect({ point, rows: await query(dir, 'select id, v from main.fact order by id') }).toEqual({ point, rows: expected });
      expect({ point, rows: await query(dir, 'select id, v from main.fact_merge order by id') }).toEqual({ point, rows: expected });
      expect({ point, files: files(dir, 'main/fact') }).toEqual({ point, files: committed(dir, 'main.fact') });
      expect({ point, files: files(dir, 'main/fact_merge') }).toEqual({ point, files: committed(dir, 'main.fact_merge') });
    }
  }, 120_000);
});
