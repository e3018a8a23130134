import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { queryDuckDB } from '../helpers/duckdb.js';

const ROOT = join(import.meta.dirname, '../..');

describe('the Gold project in this repository', () => {
  it('builds dim_date on the embedded default target', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'smelter-gold-'));
    for (const part of ['project.yml', 'models', 'macros']) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
    const run = spawnSync(process.execPath, [join(ROOT, 'bin/smelter.js'), 'run', '--project-dir', dir, '--vars', '{calendar_start: "2024-06-14", calendar_end: "2024-06-17"}'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^1 of 1 OK table gold\.dim_date \.+ \[4 rows in \d+\.\d\ds\]$/m);
    const rows = await queryDuckDB(join(dir, 'target/dev.duckdb'), 'select * from gold.dim_date order by date_key');
    expect(rows).toEqual([
      { date_key: 20240614, date: '2024-06-14', year: 2024, quarter: 2, month: 6, month_name: 'June', day_of_month: 14, day_of_week: 5, day_name: 'Friday', week_of_year: 24, is_weekend: false },
      { date_key: 20240615, date: '2024-06-15', year: 2024, quarter: 2, month: 6, month_name: 'June', day_of_month: 15, day_of_week: 6, day_name: 'Saturday', week_of_year: 24, is_weekend: true },
      { date_key: 20240616, date: '2024-06-16', year: 2024, quarter: 2, month: 6, month_name: 'June', day_of_month: 16, day_of_week: 7, day_name: 'Sunday', week_of_year: 24, is_weekend: true },
      { date_key: 20240617, date: '2024-06-17', year: 2024, quarter: 2, month: 6, month_name: 'June', day_of_month: 17, day_of_week: 1, day_name: 'Monday', week_of_year: 25, is_weekend: false },
    ]);
  });
});
