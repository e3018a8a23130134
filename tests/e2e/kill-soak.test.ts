import { describe, expect, it } from 'vitest';
import { copyFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { difference, killSoak, lakeProblems, landDay, newSoakProject, smelterBuild, snapshot } from '../../bench/kill-soak.js';
import { removeCopy } from '../helpers/cli.js';

/**
 * The short version of the kill soak (bench/kill-soak.ts; the full one makes 50 kills and more:
 * see BENCHMARKS.md). Every stateful materialization, as a database table and as an external
 * Parquet model, built by `smelter build` over three input days; each day's build is SIGKILLed at
 * a random moment and run again, and must then equal the uninterrupted day exactly: rows, state
 * watermarks, and each external location holding exactly its committed files.
 */
describe('kill soak', () => {
  it('SIGKILLs at random moments of a build, each followed by a rerun: always exactly the uninterrupted result', async () => {
    const seed = Number(process.env.SMELTER_SOAK_SEED ?? 20261203);
    const figures = await killSoak({ kills: 6, seed, days: 3 });
    // The seed is in every mismatch line: `node dist/bench/kill-soak.js --seed S --days 3` replays the delays.
    expect(figures.mismatches).toEqual([]);
    expect(figures.kills).toBe(6);
    // At most two kills a day: at least three days rerun and compared.
    expect(figures.reruns).toBeGreaterThanOrEqual(3);
  }, 90_000);

  it('the comparison sees a duplicated row, a changed watermark and a stray file in a location', async () => {
    // What the soak asserts could not pass by accident: each kind of damage a kill might leave is caught.
    const today = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
    const dir = newSoakProject(today, tmpdir());
    try {
      landDay(dir, 1, today);
      expect((await smelterBuild(dir)).code).toBe(0);
      const good = await snapshot(dir);
      expect(difference(good, good)).toBeUndefined();
      expect(await lakeProblems(dir)).toEqual([]);

      const doubled = { ...good, rows: { ...good.rows, merge_ext: [...good.rows.merge_ext, good.rows.merge_ext[0]].sort() } };
      expect(difference(good, doubled)).toBe(`merge_ext: 11 rows, expected 10; missing none; unexpected none; 1 duplicated`);
      const moved = { ...good, state: good.state.map((s) => s.replace('"last_processed_value":"10"', '"last_processed_value":"9"')) };
      expect(difference(good, moved)).toMatch(/^state differs: expected .*"table_name":"main\.append_db".*"last_processed_value":"10"/);

      const location = join(dir, 'target/lake/main/append_ext');
      const file = readdirSync(location).find((f) => f.endsWith('.parquet'))!;
      copyFileSync(join(location, file), join(location, `stray-${file}`));
      expect(await lakeProblems(dir)).toEqual([
        `main.append_ext: location holds [${[file, `stray-${file}`].sort().join(', ')}], the commit lists [${file}]`,
      ]);
    } finally {
      removeCopy(dir);
    }
  }, 30_000);
});
