import { describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { smelter } from '../helpers/cli.js';
import { queryDuckDB } from '../helpers/duckdb.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * smelter runs DuckDB in UTC whatever the machine's time zone. The CLI runs here under
 * TZ=America/New_York across the night daylight saving ended (2024-11-03: 01:00-02:00 local came
 * twice). In local time, Silver's 05:30Z is 01:30 and the later 06:10Z is 01:10: a watermark taken
 * in local time would skip the later row, and stamps such as the Gold fact's
 * `cast(now() as timestamp) as gold_ingest_ts`, which the fact compares with dim_member's, would
 * run backwards once a year.
 */

const NEW_YORK = { TZ: 'America/New_York' };

const PROJECT = 'name: dst\ntargets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n';
const SOURCES =
  'version: 2\nsources:\n  - name: silver\n    external_location: "data/silver/*.parquet"\n    tables:\n      - name: events\n        columns:\n          - { name: id, data_type: BIGINT }\n          - { name: silver_ingest_ts, data_type: TIMESTAMPTZ }\n';
// As the Gold models do: Silver's instant as a TIMESTAMP, and the build's own stamp from now().
const MODEL = `{{ config(materialized='incremental', watermark='ingest_ts') }}
select id, cast(silver_ingest_ts as timestamp) as ingest_ts, cast(now() as timestamp) as gold_ingest_ts
from {{ source('silver', 'events') }}
{% if is_incremental() %}where cast(silver_ingest_ts as timestamp) > {{ watermark() }}{% endif %}
`;

async function land(dir: string, file: string, rows: ReadonlyArray<readonly [number, string]>): Promise<void> {
  mkdirSync(join(dir, 'data/silver'), { recursive: true });
  const select = rows.map(([id, ts]) => `SELECT ${id}::BIGINT AS id, TIMESTAMPTZ '${ts}' AS silver_ingest_ts`).join(' UNION ALL ');
  await queryDuckDB(':memory:', `COPY (${select}) TO '${join(dir, 'data/silver', file)}' (FORMAT parquet)`);
}

describe('UTC across a daylight-saving change', () => {
  it('under TZ=America/New_York, a watermark over 2024-11-03 01:00-02:00 local keeps every row, and now() stamps are UTC', async () => {
    const dir = writeTempProject({ 'project.yml': PROJECT, 'models/sources.yml': SOURCES, 'models/events.sql': MODEL });
    // 01:30 EDT, then 01:10 and 01:40 EST: later instants, earlier or equal local times.
    await land(dir, 'a.parquet', [[1, '2024-11-03 05:30:00+00']]);
    const first = await smelter(['run'], { projectDir: dir, env: NEW_YORK });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    await land(dir, 'b.parquet', [
      [2, '2024-11-03 06:10:00+00'],
      [3, '2024-11-03 06:40:00+00'],
    ]);
    const before = Date.now();
    const second = await smelter(['run'], { projectDir: dir, env: NEW_YORK });
    const after = Date.now();
    expect(second.code, second.stdout + second.stderr).toBe(0);

    const db = join(dir, 'target/dev.duckdb');
    expect(await queryDuckDB(db, 'select id, ingest_ts::varchar as ingest_ts from main.events order by id')).toEqual([
      { id: '1', ingest_ts: '2024-11-03 05:30:00' },
      { id: '2', ingest_ts: '2024-11-03 06:10:00' },
      { id: '3', ingest_ts: '2024-11-03 06:40:00' },
    ]);
    expect(await queryDuckDB(db, `select last_processed_value, watermark_data_type from "_smelter"."state"`)).toEqual([
      { last_processed_value: '2024-11-03 06:40:00', watermark_data_type: 'TIMESTAMP' },
    ]);
    // The second run's stamps are its UTC wall clock (New York is 4 or 5 hours behind), and later than the first run's.
    const stamps = await queryDuckDB(db, "select id, epoch_ms(gold_ingest_ts) as ms from main.events order by id");
    const second_ms = stamps.filter((s) => s.id !== '1').map((s) => Number(s.ms));
    for (const ms of second_ms) {
      expect(ms).toBeGreaterThanOrEqual(before - 1000);
      expect(ms).toBeLessThanOrEqual(after + 1000);
    }
    expect(Number(stamps[0].ms)).toBeLessThan(Math.min(...second_ms));
  });
});
