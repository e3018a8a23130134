import { describe, expect, it } from 'vitest';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { queryDuckDB } from '../helpers/duckdb.js';
import { resetState, runProject, showState, type RunResult } from '../../runtime/index.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * scd2 dimensions on a real DuckDB file (SPEC §4): each test lands the Silver members' rows in
 * data/members.csv and runs the project with a fixed run start, then reads the exact history.
 */

const PROJECT = 'name: scd\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }\n# These tests look at the files each commit leaves: superseded ones go at once.\nmodels: { +retain_superseded: 0 }\n';
const SOURCES = "version: 2\nsources:\n  - name: silver\n    external_location: data/{name}.csv\n    tables:\n      - name: members\n";
const BY_EFFECTIVE_DATE =
  "{{ config(materialized='scd2', unique_key='bioguide_id', check_cols=['party', 'state'], valid_from_column='effective_date', surrogate_key='member_key') }}\nselect bioguide_id, first_name, party, state, effective_date from {{ source('silver', 'members') }}\n";

function project(model: string, extraConfig = ''): string {
  return writeTempProject({
    'project.yml': PROJECT + extraConfig,
    'models/sources.yml': SOURCES,
    'models/dim_member.sql': model,
    'data/members.csv': 'bioguide_id,first_name,party,state,effective_date\n',
  });
}

const land = (dir: string, csv: string) => writeFileSync(join(dir, 'data/members.csv'), csv);

async function run(dir: string, on: string, options: { fullRefresh?: boolean; force?: boolean; warnings?: string[] } = {}): Promise<RunResult> {
  const { run: result } = await runProject('run', {
    projectDir: dir,
    env: {},
    runStartedAt: new Date(on),
    fullRefresh: options.fullRefresh,
    force: options.force,
    onWarning: (w) => options.warnings?.push(w),
  });
  return result;
}

const outcome = (r: RunResult) => r.results.map((x) => [x.status, x.rows ?? null, x.message ?? null]);

/** The history as compact rows: key, id, party, from, to, current. */
async function history(dir: string, extra = ''): Promise<string[]> {
  const rows = await queryDuckDB(
    join(dir, 'target/dev.duckdb'),
    `select member_key, bioguide_id, party, valid_from, valid_to, is_current${extra} from main.dim_member order by member_key`,
  );
  return rows.map((r) => Object.values(r).map((v) => (v === null ? 'NULL' : String(v))).join(' '));
}

const stateVersion = async (dir: string) => (await showState({ projectDir: dir, env: {} }))[0]?.version;

const HEADER = 'bioguide_id,first_name,party,state,effective_date\n';

describe('scd2 by effective date (the Gold dim_member shape)', () => {
  it('closes the old version the day before a change and opens a new key (SPEC example: P000197 switches party)', async () => {
    const dir = project(BY_EFFECTIVE_DATE);
    land(dir, `${HEADER}P000197,Nancy,Democrat,CA,2023-01-03\nS000001,Ann,Republican,TX,2023-01-03\n`);
    expect(outcome(await run(dir, '2024-01-01T08:00:00Z'))).toEqual([['success', 2, null]]);
    land(dir, `${HEADER}P000197,Nancy,Democrat,CA,2023-01-03\nS000001,Ann,Republican,TX,2023-01-03\nP000197,Nancy,Independent,CA,2024-06-15\n`);
    expect(outcome(await run(dir, '2024-06-16T08:00:00Z'))).toEqual([['success', 2, null]]);
    expect(await history(dir)).toEqual([
      '1 P000197 Democrat 2023-01-03 2024-06-14 false',
      '2 S000001 Republican 2023-01-03 9999-12-31 true',
      '3 P000197 Independent 2024-06-15 9999-12-31 true',
    ]);
    const [state] = await showState({ projectDir: dir, env: {} });
    expect(state).toMatchObject({ table_name: 'main.dim_member', rows_processed: 2, rows_total: 3, version: 2 });
  });

  it('several rows of a key in one batch become versions in date order; equal rows and untracked changes create nothing; a rerun changes nothing', async () => {
    const dir = project(BY_EFFECTIVE_DATE);
    land(
      dir,
      `${HEADER}A000001,Al,Democrat,NY,2024-03-01\nA000001,Al,Republican,NY,2023-01-03\nA000001,Al,Republican,NY,2023-05-01\nA000001,Albert,Republican,NY,2023-09-01\nA000001,Al,Democrat,NJ,2024-05-01\n`,
    );
    expect(outcome(await run(dir, '2024-06-01T08:00:00Z'))).toEqual([['success', 3, null]]);
    expect(await history(dir, ', first_name, state')).toEqual([
      '1 A000001 Republican 2023-01-03 2024-02-29 false Al NY',
      '2 A000001 Democrat 2024-03-01 2024-04-30 false Al NY',
      '3 A000001 Democrat 2024-05-01 9999-12-31 true Al NJ',
    ]);
    const version = await stateVersion(dir);
    expect(outcome(await run(dir, '2024-06-02T08:00:00Z'))).toEqual([['success', 0, null]]);
    expect(await stateVersion(dir)).toBe(version);
    expect(await history(dir, ', first_name, state')).toHaveLength(3);
  });

  it('places a late change in order: the version it falls in keeps its key and is shortened, the new one gets a new key', async () => {
    const dir = project(BY_EFFECTIVE_DATE);
    const base = `${HEADER}P000197,Nancy,Democrat,CA,2023-01-03\nP000197,Nancy,Independent,CA,2024-06-15\n`;
    land(dir, base);
    await run(dir, '2024-07-01T08:00:00Z');
    land(dir, `${base}P000197,Nancy,Green,CA,2024-01-10\n`);
    expect(outcome(await run(dir, '2024-07-02T08:00:00Z'))).toEqual([['success', 2, null]]);
    expect(await history(dir)).toEqual([
      '1 P000197 Democrat 2023-01-03 2024-01-09 false',
      '2 P000197 Independent 2024-06-15 9999-12-31 true',
      '3 P000197 Green 2024-01-10 2024-06-14 false',
    ]);
  });

  it('a late row equal to the version it falls in changes nothing', async () => {
    const dir = project(BY_EFFECTIVE_DATE);
    const base = `${HEADER}P000197,Nancy,Democrat,CA,2023-01-03\nP000197,Nancy,Independent,CA,2024-06-15\n`;
    land(dir, base);
    await run(dir, '2024-07-01T08:00:00Z');
    land(dir, `${base}P000197,Nancy,Democrat,CA,2024-01-10\n`);
    expect(outcome(await run(dir, '2024-07-02T08:00:00Z'))).toEqual([['success', 0, null]]);
    expect(await history(dir)).toEqual(['1 P000197 Democrat 2023-01-03 2024-06-14 false', '2 P000197 Independent 2024-06-15 9999-12-31 true']);
  });

  it('a NULL key or effective date, or two different rows for a key at one time, is an error naming it; nothing is committed', async () => {
    const dir = project(BY_EFFECTIVE_DATE);
    land(dir, `${HEADER}P000197,Nancy,Democrat,CA,2023-01-03\n`);
    await run(dir, '2024-01-01T08:00:00Z');
    const version = await stateVersion(dir);
    const before = await history(dir);

    land(dir, `${HEADER}P000197,Nancy,Democrat,CA,2023-01-03\n,Bob,Republican,TX,2024-02-01\n`);
    expect(outcome(await run(dir, '2024-02-02T08:00:00Z'))).toEqual([
      ['error', null, 'models/dim_member.sql: dim_member: 1 row has a NULL in unique_key bioguide_id; nothing was committed'],
    ]);
    land(dir, `${HEADER}P000197,Nancy,Democrat,CA,\n`);
    expect(outcome(await run(dir, '2024-02-02T08:00:00Z'))).toEqual([
      ['error', null, 'models/dim_member.sql: dim_member: 1 row has no effective_date, so when it takes effect is unknown; nothing was committed'],
    ]);
    land(dir, `${HEADER}P000197,Nancy,Democrat,CA,2024-03-01\nP000197,Nancy,Republican,CA,2024-03-01\nB000002,Bo,Democrat,CA,2024-03-01\nB000002,Bo,Democrat,NV,2024-03-01\n`);
    expect(outcome(await run(dir, '2024-03-02T08:00:00Z'))).toEqual([
      [
        'error',
        null,
        "models/dim_member.sql: dim_member: bioguide_id = 'B000002' has different rows taking effect at the same time (2024-03-01), and 1 more key too: which one is right is unknown; nothing was committed",
      ],
    ]);
    expect(await history(dir)).toEqual(before);
    expect(await stateVersion(dir)).toBe(version);
  });
});

describe('scd2 effective times', () => {
  const BY_TIMESTAMP =
    "{{ config(materialized='scd2', unique_key='id', check_cols=['party'], valid_from_column='changed_at', surrogate_key='member_key') }}\nselect id as bioguide_id, id, party, changed_at from {{ source('silver', 'members') }}\n";

  it('by day, changes of one day collapse into the last by time, then by source order', async () => {
    const dir = project(BY_TIMESTAMP);
    land(dir, 'id,party,changed_at\nX,Democrat,2024-03-01 09:00:00\nX,Republican,2024-03-01 17:00:00\nX,Green,2024-03-01 12:00:00\nY,Democrat,2024-03-01 09:00:00\nY,Democrat,2024-03-01 09:00:00\n');
    expect(outcome(await run(dir, '2024-03-02T08:00:00Z'))).toEqual([['success', 2, null]]);
    expect(await history(dir)).toEqual(['1 X Republican 2024-03-01 9999-12-31 true', '2 Y Democrat 2024-03-01 9999-12-31 true']);
  });

  it('granularity timestamp keeps every change, each version ending where the next begins', async () => {
    const dir = project(BY_TIMESTAMP.replace("surrogate_key='member_key'", "surrogate_key='member_key', granularity='timestamp'"));
    land(dir, 'id,party,changed_at\nX,Democrat,2024-03-01 09:00:00\nX,Republican,2024-03-01 17:00:00\n');
    await run(dir, '2024-03-02T08:00:00Z');
    expect(await history(dir)).toEqual([
      '1 X Democrat 2024-03-01 09:00:00 2024-03-01 17:00:00 false',
      '2 X Republican 2024-03-01 17:00:00 9999-12-31 00:00:00 true',
    ]);
  });

  it('without valid_from_column, changes take effect on the run day; a second change that day updates the version in place', async () => {
    const dir = project(
      "{{ config(materialized='scd2', unique_key='bioguide_id', check_cols='all', surrogate_key='member_key') }}\nselect bioguide_id, party from {{ source('silver', 'members') }}\n",
    );
    land(dir, 'bioguide_id,party\nP1,Democrat\nP2,Republican\n');
    await run(dir, '2024-05-01T08:00:00Z');
    land(dir, 'bioguide_id,party\nP1,Independent\nP2,Republican\n');
    expect(outcome(await run(dir, '2024-05-01T15:00:00Z'))).toEqual([['success', 1, null]]);
    expect(await history(dir)).toEqual(['1 P1 Independent 2024-05-01 9999-12-31 true', '2 P2 Republican 2024-05-01 9999-12-31 true']);
    land(dir, 'bioguide_id,party\nP1,Green\nP2,Republican\n');
    expect(outcome(await run(dir, '2024-05-03T08:00:00Z'))).toEqual([['success', 2, null]]);
    expect(await history(dir)).toEqual([
      '1 P1 Independent 2024-05-01 2024-05-02 false',
      '2 P2 Republican 2024-05-01 9999-12-31 true',
      '3 P1 Green 2024-05-03 9999-12-31 true',
    ]);
  });

  it('strategy timestamp: a newer updated_at is a new version, the same one is nothing, an older one is a late change', async () => {
    const dir = project(
      "{{ config(materialized='scd2', unique_key='bioguide_id', strategy='timestamp', updated_at='updated_at', surrogate_key='member_key') }}\nselect bioguide_id, party, updated_at from {{ source('silver', 'members') }}\n",
    );
    land(dir, 'bioguide_id,party,updated_at\nP1,Democrat,2024-01-05 10:00:00\n');
    await run(dir, '2024-02-01T08:00:00Z');
    land(dir, 'bioguide_id,party,updated_at\nP1,Democrat,2024-01-05 10:00:00\nP1,Democrat,2024-03-05 10:00:00\nP1,Green,2023-06-01 00:00:00\n');
    // Written: the first version (now ending earlier) and two new ones.
    expect(outcome(await run(dir, '2024-04-01T08:00:00Z'))).toEqual([['success', 3, null]]);
    expect(await history(dir)).toEqual([
      '1 P1 Democrat 2024-01-05 2024-03-04 false',
      '2 P1 Green 2023-06-01 2024-01-04 false',
      '3 P1 Democrat 2024-03-05 9999-12-31 true',
    ]);
  });
});

describe('scd2 hard deletes (a source that is a complete snapshot)', () => {
  const model = (mode: string) =>
    `{{ config(materialized='scd2', unique_key='bioguide_id', check_cols=['party'], surrogate_key='member_key', hard_deletes='${mode}') }}\nselect bioguide_id, party from {{ source('silver', 'members') }}\n`;

  it('ignore keeps a vanished key current', async () => {
    const dir = project(model('ignore'));
    land(dir, 'bioguide_id,party\nP1,Democrat\nP2,Republican\n');
    await run(dir, '2024-05-01T08:00:00Z');
    land(dir, 'bioguide_id,party\nP1,Democrat\n');
    expect(outcome(await run(dir, '2024-05-03T08:00:00Z'))).toEqual([['success', 0, null]]);
    expect(await history(dir)).toEqual(['1 P1 Democrat 2024-05-01 9999-12-31 true', '2 P2 Republican 2024-05-01 9999-12-31 true']);
  });

  it('invalidate ends the vanished key the day before the run; its return opens a new version after the gap', async () => {
    const dir = project(model('invalidate'));
    land(dir, 'bioguide_id,party\nP1,Democrat\nP2,Republican\n');
    await run(dir, '2024-05-01T08:00:00Z');
    land(dir, 'bioguide_id,party\nP1,Democrat\n');
    expect(outcome(await run(dir, '2024-05-03T08:00:00Z'))).toEqual([['success', 1, null]]);
    expect(await history(dir)).toEqual(['1 P1 Democrat 2024-05-01 9999-12-31 true', '2 P2 Republican 2024-05-01 2024-05-02 false']);
    // Still gone: nothing more to do.
    expect(outcome(await run(dir, '2024-05-04T08:00:00Z'))).toEqual([['success', 0, null]]);
    land(dir, 'bioguide_id,party\nP1,Democrat\nP2,Republican\n');
    expect(outcome(await run(dir, '2024-05-10T08:00:00Z'))).toEqual([['success', 1, null]]);
    expect(await history(dir)).toEqual([
      '1 P1 Democrat 2024-05-01 9999-12-31 true',
      '2 P2 Republican 2024-05-01 2024-05-02 false',
      '3 P2 Republican 2024-05-10 9999-12-31 true',
    ]);
  });

  it('new_record adds a current deleted version, and a new one when the key returns', async () => {
    const dir = project(model('new_record'));
    land(dir, 'bioguide_id,party\nP1,Democrat\nP2,Republican\n');
    await run(dir, '2024-05-01T08:00:00Z');
    land(dir, 'bioguide_id,party\nP1,Democrat\n');
    expect(outcome(await run(dir, '2024-05-03T08:00:00Z'))).toEqual([['success', 2, null]]);
    expect(outcome(await run(dir, '2024-05-04T08:00:00Z'))).toEqual([['success', 0, null]]);
    land(dir, 'bioguide_id,party\nP1,Democrat\nP2,Green\n');
    expect(outcome(await run(dir, '2024-05-10T08:00:00Z'))).toEqual([['success', 2, null]]);
    expect(await history(dir, ', is_deleted')).toEqual([
      '1 P1 Democrat 2024-05-01 9999-12-31 true false',
      '2 P2 Republican 2024-05-01 2024-05-02 false false',
      '3 P2 Republican 2024-05-03 2024-05-09 false true',
      '4 P2 Green 2024-05-10 9999-12-31 true false',
    ]);
  });
});

describe('scd2 history is kept', () => {
  it('--full-refresh and state reset leave it unless --force; with it the history is rebuilt from the source', async () => {
    const dir = project(BY_EFFECTIVE_DATE);
    land(dir, `${HEADER}P000197,Nancy,Democrat,CA,2023-01-03\nP000197,Nancy,Independent,CA,2024-06-15\n`);
    await run(dir, '2024-07-01T08:00:00Z');
    // The source has lost the old row: only a rebuild would lose the history.
    land(dir, `${HEADER}P000197,Nancy,Independent,CA,2024-06-15\n`);
    const warnings: string[] = [];
    expect(outcome(await run(dir, '2024-07-02T08:00:00Z', { fullRefresh: true, warnings }))).toEqual([['success', 0, null]]);
    expect(warnings).toEqual(['--full-refresh keeps the history of dim_member (scd2: the source may no longer hold it); add --force to rebuild it']);
    expect(await history(dir)).toHaveLength(2);
    expect(await resetState({ projectDir: dir, env: {}, select: ['dim_member'] })).toEqual({ reset: [], kept: ['main.dim_member'] });
    expect(await history(dir)).toHaveLength(2);

    expect(outcome(await run(dir, '2024-07-03T08:00:00Z', { fullRefresh: true, force: true }))).toEqual([['success', 1, null]]);
    expect(await history(dir)).toEqual(['1 P000197 Independent 2024-06-15 9999-12-31 true']);
  });
});

describe('external scd2', () => {
  it('writes the history as Parquet and rewrites the file set when versions change; the same rows as a table', async () => {
    const dir = project(BY_EFFECTIVE_DATE.replace("surrogate_key='member_key'", "surrogate_key='member_key', external=true"));
    land(dir, `${HEADER}P000197,Nancy,Democrat,CA,2023-01-03\nS000001,Ann,Republican,TX,2023-01-03\n`);
    await run(dir, '2024-01-01T08:00:00Z');
    land(dir, `${HEADER}P000197,Nancy,Democrat,CA,2023-01-03\nS000001,Ann,Republican,TX,2023-01-03\nP000197,Nancy,Independent,CA,2024-06-15\n`);
    expect(outcome(await run(dir, '2024-06-16T08:00:00Z'))).toEqual([['success', 2, null]]);
    expect(outcome(await run(dir, '2024-06-17T08:00:00Z'))).toEqual([['success', 0, null]]);
    expect(await history(dir)).toEqual([
      '1 P000197 Democrat 2023-01-03 2024-06-14 false',
      '2 S000001 Republican 2023-01-03 9999-12-31 true',
      '3 P000197 Independent 2024-06-15 9999-12-31 true',
    ]);
    expect(readdirSync(join(dir, 'target/lake/main/dim_member')).filter((f) => f.endsWith('.parquet'))).toHaveLength(1);
  });
});
