import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { queryDuckDB } from '../helpers/duckdb.js';
import { runProject, showState, type RunResult } from '../../runtime/index.js';
import { COMPACT_AT_SMALL_FILES } from '../../runtime/materializations/external-incremental.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * The files of external models: bounded by file_max_bytes and ordered by cluster_by (default the
 * unique key), so a merge rewrites only the files that hold affected keys; small files left by
 * appends are compacted once enough have gathered.
 */

const PROJECT = 'name: files\nvars: { n: 0, hi: 0, bump: 0 }\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1, settings: { threads: 1 } }\n# These tests look at the files each commit leaves: superseded ones go at once.\nmodels: { +retain_superseded: 0 }\n';

function project(model: string): string {
  return writeTempProject({ 'project.yml': PROJECT, 'models/fact.sql': model });
}

async function run(dir: string, vars: Record<string, unknown>): Promise<RunResult> {
  const { run: result } = await runProject('run', { projectDir: dir, env: {}, vars });
  expect(result.results.map((r) => [r.status, r.message ?? null])).toEqual([['success', null]]);
  return result;
}

/** The committed files with their key range and size. */
async function files(dir: string): Promise<Array<{ file: string; lo: number; hi: number; bytes: number }>> {
  const [state] = await showState({ projectDir: dir, env: {} });
  const manifest = JSON.parse(readFileSync(join(dir, 'target/lake', state.manifest_pointer!), 'utf8')) as { location: string; files: Array<{ name: string }> };
  const out = [];
  for (const { name } of manifest.files) {
    const path = join(dir, 'target/lake', manifest.location, name);
    const [range] = await queryDuckDB(':memory:', `select min(id)::INTEGER as lo, max(id)::INTEGER as hi from read_parquet('${path}')`);
    out.push({ file: name, lo: Number(range.lo), hi: Number(range.hi), bytes: statSync(path).size });
  }
  return out.sort((a, b) => a.lo - b.lo);
}

describe('files of external models', () => {
  it('are bounded and ordered by the unique key; a merge rewrites only the files holding affected keys', async () => {
    // Rows arrive shuffled: the files are ordered by id all the same.
    const dir = project(
      "{{ config(materialized='incremental', external=true, unique_key='id', file_max_bytes='1MB') }}\n" +
        "select id, md5(id::varchar) as payload, {{ var('bump') }} as version from range({{ var('n') }}) t(id)\n" +
        "{% if is_incremental() %}where id between {{ var('hi') }} - 9 and {{ var('hi') }}{% endif %}\norder by hash(id)\n",
    );
    await run(dir, { n: 600_000 });
    const first = await files(dir);
    expect(first.length).toBeGreaterThanOrEqual(4);
    // Disjoint, consecutive key ranges covering every row.
    expect(first[0].lo).toBe(0);
    expect(first.at(-1)!.hi).toBe(599_999);
    for (let i = 1; i < first.length; i++) expect(first[i].lo).toBe(first[i - 1].hi + 1);
    // DuckDB starts a new file once the current one passes the bound, at a row group's end (122,880
    // rows here, about 2.4 MB; one DuckDB thread, so one row group at a time): one 14 MB file unbounded.
    for (const f of first) expect(f.bytes).toBeLessThanOrEqual(3 * 1024 * 1024);

    // Ten keys inside the second file change: that file is rewritten (with the changes), no other.
    const hi = first[1].lo + 20;
    await run(dir, { n: 600_000, hi, bump: 1 });
    const second = await files(dir);
    const before = new Set(first.map((f) => f.file));
    const rewritten = second.filter((f) => !before.has(f.file));
    expect(rewritten.map((f) => [f.lo, f.hi])).toEqual([[first[1].lo, first[1].hi]]);
    expect(second.filter((f) => before.has(f.file)).map((f) => f.file)).toEqual(first.filter((f) => f !== first[1]).map((f) => f.file));
    const [counts] = await queryDuckDB(join(dir, 'target/dev.duckdb'), 'select count(*)::INTEGER as n, count(*) filter (where version = 1)::INTEGER as changed from main.fact');
    expect(counts).toEqual({ n: 600_000, changed: 10 });
  });

  it('small files that appends leave are compacted once enough have gathered', async () => {
    const dir = project(
      "{{ config(materialized='incremental', external=true, unique_key='id', incremental_strategy='append') }}\n" +
        "select id from range({{ var('n') }}) t(id)\n{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}\n",
    );
    await run(dir, { n: 100_000 });
    let n = 100_000;
    for (let day = 1; day <= COMPACT_AT_SMALL_FILES; day++) {
      n += 100;
      await run(dir, { n });
    }
    expect(await files(dir)).toHaveLength(1 + COMPACT_AT_SMALL_FILES);
    // The next append finds 16 small files: they and the new rows become one file.
    n += 100;
    await run(dir, { n });
    const compacted = await files(dir);
    expect(compacted.map((f) => [f.lo, f.hi])).toEqual([
      [0, 99_999],
      [100_000, n - 1],
    ]);
    const [state] = await showState({ projectDir: dir, env: {} });
    expect({ rows: state.rows_processed, total: state.rows_total }).toEqual({ rows: 100, total: n });
    const [count] = await queryDuckDB(join(dir, 'target/dev.duckdb'), 'select count(*)::INTEGER as n, count(distinct id)::INTEGER as ids from main.fact');
    expect(count).toEqual({ n, ids: n });
  });

  it('superseded files stay readable for retain_superseded, listed in no symlink manifest, then go', async () => {
    const dir = writeTempProject({
      'project.yml': 'name: keep\nvars: { v: 0 }\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }\n',
      'models/dim.sql': "{{ config(materialized='table', external=true, retain_superseded='1s') }}\nselect {{ var('v') }} as v\n",
    });
    const location = join(dir, 'target/lake/main/dim');
    const parquet = () => readdirSync(location).filter((f) => f.endsWith('.parquet')).sort();
    const listed = () => readFileSync(join(location, '_symlink_format_manifest/manifest'), 'utf8').trim().split('\n').map((l) => l.slice(l.lastIndexOf('/') + 1));
    await runProject('run', { projectDir: dir, env: {}, vars: { v: 1 } });
    const [first] = parquet();
    await runProject('run', { projectDir: dir, env: {}, vars: { v: 2 } });
    // The first version's file is still there for readers that started before the commit...
    const second = parquet().filter((f) => f !== first);
    expect(parquet()).toEqual([first, ...second].sort());
    // ...but committed readers see only the new one.
    expect(listed()).toEqual(second);
    expect(await queryDuckDB(join(dir, 'target/dev.duckdb'), 'select v from main.dim')).toEqual([{ v: 2 }]);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await runProject('run', { projectDir: dir, env: {}, vars: { v: 3 } });
    // The next commit's clean-up deletes what has passed its retention: the first file.
    expect(parquet()).not.toContain(first);
    expect(parquet()).toHaveLength(2);
    expect(listed()).toHaveLength(1);
  });
});
