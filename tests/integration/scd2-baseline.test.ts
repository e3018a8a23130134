import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProject } from '../../runtime/index.js';
import { handwrittenScd2 } from '../../bench/scd2-handwritten.js';
import { compareScd2, runHandwritten, SCD2_MODEL, SCD2_MODEL_NAME, SCD2_PROJECT, SCD2_SOURCE_FILE, SCD2_SOURCES, writeScd2Day } from '../../bench/scd2-data.js';
import { queryDuckDB } from '../helpers/duckdb.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * What keeps bench/scd2-bench.ts honest: on the bench's own days (a few hundred keys), the
 * hand-written baseline and smelter's scd2 model leave the same dimension, every column compared,
 * and the days hold the cases they claim (closed versions, split and prepended history).
 */

const KEYS = 600;

/** The bench's project in a temporary folder, its data/ folder waiting for a day's snapshot. */
function benchProject(): string {
  const dir = writeTempProject({ 'project.yml': SCD2_PROJECT, 'models/sources.yml': SCD2_SOURCES, [`models/${SCD2_MODEL_NAME}.sql`]: SCD2_MODEL(false) });
  mkdirSync(join(dir, 'data'));
  return dir;
}

async function runModel(dir: string): Promise<number> {
  const { run } = await runProject('run', { projectDir: dir, env: {} });
  const [result] = run.results;
  expect(result.status, result.message).toBe('success');
  return result.rows ?? 0;
}

describe('the scd2 bench: hand-written SQL and smelter agree', () => {
  it('on day 1 (5% changed) and on the late day (1% late changes), row for row', async () => {
    const dir = benchProject();
    const inputs = mkdtempSync(join(tmpdir(), 'smelter-scd2-days-'));
    for (const day of ['day0', 'day1', 'late'] as const) await writeScd2Day(join(inputs, `${day}.parquet`), day, KEYS);
    const db = join(dir, 'target/bench.duckdb');
    const source = join(dir, SCD2_SOURCE_FILE);
    const land = (day: string) => copyFileSync(join(inputs, `${day}.parquet`), source);

    land('day0');
    expect(await runModel(dir)).toBe(KEYS);

    const written: Record<string, number> = {};
    for (const day of ['day1', 'late'] as const) {
      const baseline = join(inputs, `handwritten-${day}.duckdb`);
      copyFileSync(db, baseline);
      land(day);
      written[day] = await runModel(dir);
      await runHandwritten(baseline, handwrittenScd2(`main.${SCD2_MODEL_NAME}`, source));
      const diff = await compareScd2(db, baseline);
      expect(diff, day).toMatchObject({ onlyHere: 0, onlyThere: 0 });
      expect(diff.rows, day).toBe(diff.otherRows);
    }

    // Versions per key after both days: 1 (untouched), 2 (changed on day 1, or a late first
    // version), 3 (changed on day 1, then split by a late change between its two versions).
    const shape = await queryDuckDB(
      db,
      `SELECT versions, count(*) AS keys FROM (SELECT id, count(*) AS versions FROM main.${SCD2_MODEL_NAME} GROUP BY id) GROUP BY versions ORDER BY versions`,
    );
    const keysWith = (n: number) => Number(shape.find((r) => Number(r.versions) === n)?.keys ?? 0);
    expect(keysWith(3)).toBeGreaterThan(0);
    expect(keysWith(2)).toBeGreaterThan(keysWith(3));
    expect(keysWith(1) + keysWith(2) + keysWith(3)).toBe(KEYS);
    // Each change of day 1 closes a version and opens one; a late change writes its version and
    // shortens the one it falls in when there is one (the keys now with three versions).
    const [counts] = await queryDuckDB(
      db,
      `SELECT count(*) FILTER (WHERE valid_from = DATE '2026-01-02') AS day1, count(*) FILTER (WHERE scd_key > ${KEYS} AND valid_from < DATE '2026-01-02') AS late FROM main.${SCD2_MODEL_NAME}`,
    );
    expect(Number(counts.day1)).toBeGreaterThan(0);
    expect(written.day1).toBe(2 * Number(counts.day1));
    expect(written.late).toBe(Number(counts.late) + keysWith(3));
  });

  it('a baseline that numbers versions differently is caught', async () => {
    const dir = benchProject();
    const source = join(dir, SCD2_SOURCE_FILE);
    await writeScd2Day(source, 'day0', 200);
    await runModel(dir);
    const db = join(dir, 'target/bench.duckdb');
    const baseline = join(dir, 'baseline.duckdb');
    copyFileSync(db, baseline);
    await writeScd2Day(source, 'day1', 200);
    await runModel(dir);
    const wrong = handwrittenScd2(`main.${SCD2_MODEL_NAME}`, source).map((s) => s.replace('ORDER BY c.id, c.vf', 'ORDER BY c.id DESC'));
    await runHandwritten(baseline, wrong);
    const diff = await compareScd2(db, baseline);
    expect(diff.onlyHere).toBeGreaterThan(0);
    expect(diff.onlyThere).toBe(diff.onlyHere);
  });
});
