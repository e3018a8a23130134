import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
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
    'project.yml': 'name: ext\nvars: { n: 4 }\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }\n',
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

/** The files of the newest manifest of `table` (after a complete run, the only one: the committed one). */
function committed(dir: string, table: string): string[] {
  const manifests = join(dir, 'target/lake/.smelter/manifests', table);
  const newest = readdirSync(manifests).sort((a, b) => Number(a.slice(1, -5)) - Number(b.slice(1, -5))).pop()!;
  return [...(JSON.parse(readFileSync(join(manifests, newest), 'utf8')) as { files: string[] }).files].sort();
}

async function query(dir: string, sql: string): Promise<unknown[]> {
  const instance = await DuckDBInstance.create(join(dir, 'target/dev.duckdb'));
  const connection = await instance.connect();
  try {
    return await (await connection.run(sql)).getRowObjectsJson();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

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
    expect(files(dir, 'gold/dim').map((f) => f.replace(/[0-9a-f]{12}-/, 'RUN-'))).toEqual(['RUN-part-0.parquet']);
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
      const nowCommitted = (JSON.parse(readFileSync(join(dir, 'target/lake', pointer), 'utf8')) as { files: string[] }).files;
      const allowed = new Set([...before.facts, ...nowCommitted]);
      expect({ point, stray: files(dir, 'gold/facts').filter((f) => !allowed.has(f)) }).toEqual({ point, stray: [] });

      expect({ point, code: smelter(dir, ['run', '--vars', '{n: 6}']).code }).toEqual({ point, code: 0 });
      expect({ point, files: files(dir, 'gold/facts') }).toEqual({ point, files: committed(dir, 'gold.facts') });
      expect({ point, report: await query(dir, 'select * from main.report') }).toEqual({ point, report: REPORT_6 });
      expect({ point, staging: files(dir, '.smelter/staging') }).toEqual({ point, staging: [] });
    }
  }, 120_000);

  it('external on an incremental model is refused until incremental external storage exists', () => {
    const dir = writeTempProject({
      'project.yml': 'name: ext\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake }\n',
      'models/inc.sql': "{{ config(materialized='incremental', external=true) }}\nselect 1 as id\n",
    });
    expect(smelter(dir, ['run'])).toMatchObject({
      code: 2,
      stderr: 'error: models/inc.sql: external: true on an incremental model is not available in this version of smelter yet (external tables are)\n',
    });
  });
});
