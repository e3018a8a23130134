/**
 * Damaged state and committed data (issue: "nothing lost, nothing injected"): each case damages a
 * built project the way a careless hand, a lost backup or a half-finished copy would, then asserts
 * the exact message and exit code, and that data, state and files are exactly as they were — or,
 * for the recoveries the messages name, exactly the rows of an undamaged build.
 *
 * The CLI runs in-process (its `main`, with captured output): the same code path as `smelter`, at
 * a fraction of a process start per call.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { smelterInProcess } from '../helpers/cli-in-process.js';
import { execDuckDB, listFiles, queryDuckDB } from '../helpers/cli.js';
import { runProject, showState } from '../../runtime/index.js';
import { writeTempProject } from '../helpers/temp-project.js';

const cli = smelterInProcess;

const FACT = `{{ config(materialized='incremental', external=true, unique_key='id', watermark='id') }}
select id, amount from {{ source('landing', 'orders') }}
{% if is_incremental() %}where id > {{ watermark() }}{% endif %}
`;
const LEDGER = `{{ config(materialized='incremental', watermark='id') }}
select id, amount from {{ source('landing', 'orders') }}
{% if is_incremental() %}where id > {{ watermark() }}{% endif %}
`;
const MEMBERS = `{{ config(materialized='scd2', unique_key='member_id', check_cols=['party'], valid_from_column='changed_on', surrogate_key='member_key') }}
select member_id, party, changed_on from {{ source('landing', 'members') }}
`;

const ORDERS_1 = 'id,amount\n1,10\n2,20\n';
const ORDERS_2 = 'id,amount\n1,10\n2,20\n3,30\n';
const ORDERS_3 = 'id,amount\n1,10\n2,20\n3,30\n4,40\n';
const MEMBERS_1 = 'member_id,party,changed_on\nA,D,2024-01-01\nB,R,2024-01-01\n';
const MEMBERS_2 = 'member_id,party,changed_on\nA,R,2024-06-15\n';

/** A project built twice (two committed versions of each model), kept as a template the cases copy. */
let template: string;

beforeAll(async () => {
  template = writeTempProject({
    'project.yml': 'name: damage\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake }\nmodels:\n  +retain_superseded: 0\n',
    'models/sources.yml':
      'version: 2\nsources:\n  - name: landing\n    tables:\n      - name: orders\n        external_location: data/orders.csv\n      - name: members\n        external_location: data/members.csv\n',
    'models/fact.sql': FACT,
    'models/ledger.sql': LEDGER,
    'models/members.sql': MEMBERS,
    'data/orders.csv': ORDERS_1,
    'data/members.csv': MEMBERS_1,
  });
  expect((await cli(template, 'run')).code).toBe(0);
  writeFileSync(join(template, 'data/orders.csv'), ORDERS_2);
  writeFileSync(join(template, 'data/members.csv'), MEMBERS_2);
  const second = await cli(template, 'run');
  expect(second.stderr).toBe('');
  expect(second.code).toBe(0);
}, 60_000);

/** A fresh copy of the built template. */
function copy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'smelter-damaged-'));
  cpSync(template, dir, { recursive: true });
  return dir;
}

const LAKE = 'target/lake';
const FACT_DIR = `${LAKE}/main/fact`;
const MANIFEST = `${LAKE}/.smelter/manifests/main.fact/v2.json`;

/** Every file under the lake with its SHA-256, and every state record and model row: what must not change. */
async function snapshot(dir: string): Promise<unknown> {
  const lake = join(dir, LAKE);
  const files = Object.fromEntries(listFiles(lake).map((f) => [join(LAKE, f), createHash('sha256').update(readFileSync(join(lake, f))).digest('hex')]));
  const db = join(dir, 'target/dev.duckdb');
  const state = await queryDuckDB(db, 'SELECT * FROM _smelter.state ORDER BY table_name');
  const ledger = await queryDuckDB(db, 'SELECT * FROM main.ledger ORDER BY id');
  const members = await queryDuckDB(db, 'SELECT * FROM main.members ORDER BY member_key');
  return { files, state, ledger, members };
}

const factFiles = (dir: string) => readdirSync(join(dir, FACT_DIR)).filter((f) => f.endsWith('.parquet')).sort();
const factRows = async (dir: string) =>
  queryDuckDB(join(dir, 'target/dev.duckdb'), `SELECT id, amount FROM read_parquet('${join(dir, FACT_DIR)}/*.parquet') ORDER BY id`);
const uri = (dir: string, path: string) => join(dir, path);

/** Damage the copy, run, and expect the exact outcome with nothing changed. */
async function refused(damage: (dir: string) => void | Promise<void>, args: string[], expected: { code: number; stdout?: RegExp; stderr?: string }) {
  const dir = copy();
  await damage(dir);
  const before = await snapshot(dir);
  const result = await cli(dir, ...args);
  expect(result.code).toBe(expected.code);
  if (expected.stdout) expect(result.stdout).toMatch(expected.stdout);
  if (expected.stderr !== undefined) expect(result.stderr).toBe(expected.stderr);
  expect(await snapshot(dir)).toEqual(before);
  return { dir, result };
}

const RECOVER = "(restore it from a backup (or the storage's object versions), or `smelter state reset` the model to rebuild it)";
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('a damaged file-set manifest is an error naming it; nothing is deleted', () => {
  it('a missing manifest', async () => {
    const { dir, result } = await refused((d) => rmSync(join(d, MANIFEST)), ['run', '--select', 'fact'], { code: 1 });
    expect(result.stderr).toBe(`error: the committed file-set manifest ${uri(dir, MANIFEST)} is missing: the model's committed files cannot be known; nothing was changed ${RECOVER}\n`);
  });

  it('a manifest cut short (not JSON)', async () => {
    const { dir, result } = await refused((d) => truncateSync(join(d, MANIFEST), 40), ['run', '--select', 'fact'], { code: 1 });
    expect(result.stderr).toBe(`error: the committed file-set manifest ${uri(dir, MANIFEST)} is not valid JSON (Unterminated string in JSON at position 40); nothing was changed ${RECOVER}\n`);
  });

  it('a manifest that lists a file twice (it would serve doubled rows)', async () => {
    const { dir, result } = await refused(
      (d) => {
        const m = JSON.parse(readFileSync(join(d, MANIFEST), 'utf8'));
        m.files.push(m.files[0]);
        writeFileSync(join(d, MANIFEST), JSON.stringify(m));
      },
      ['run', '--select', 'fact'],
      { code: 1 },
    );
    const name = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')).files[0].name;
    expect(result.stderr).toBe(`error: the committed file-set manifest ${uri(dir, MANIFEST)} is damaged: it lists the file ${name} twice; nothing was changed ${RECOVER}\n`);
  });

  it('a manifest whose files are not a list', async () => {
    const { dir, result } = await refused(
      (d) => writeFileSync(join(d, MANIFEST), JSON.stringify({ ...JSON.parse(readFileSync(join(d, MANIFEST), 'utf8')), files: {} })),
      ['run', '--select', 'fact'],
      { code: 1 },
    );
    expect(result.stderr).toBe(`error: the committed file-set manifest ${uri(dir, MANIFEST)} is damaged: files is not a list; nothing was changed ${RECOVER}\n`);
  });

  it('a state record pointing at a manifest that is not there', async () => {
    const { dir, result } = await refused(
      (d) => execDuckDB(join(d, 'target/dev.duckdb'), "UPDATE _smelter.state SET manifest_pointer = '.smelter/manifests/main.fact/v7.json' WHERE table_name = 'main.fact'"),
      ['run', '--select', 'fact'],
      { code: 1 },
    );
    expect(result.stderr).toBe(
      `error: the committed file-set manifest ${uri(dir, `${LAKE}/.smelter/manifests/main.fact/v7.json`)} is missing: the model's committed files cannot be known; nothing was changed ${RECOVER}\n`,
    );
  });
});

describe('a damaged committed file is an error naming it; nothing is deleted', () => {
  it('a deleted committed file (not an ENOENT of a staging rename)', async () => {
    let gone = '';
    const { dir, result } = await refused(
      (d) => {
        gone = factFiles(d)[0];
        rmSync(join(d, FACT_DIR, gone));
      },
      ['run', '--select', 'fact'],
      { code: 1 },
    );
    expect(result.stderr).toBe(
      `error: committed file ${uri(dir, `${FACT_DIR}/${gone}`)} of main.fact (version 2) is missing from storage; nothing was changed (restore it, or \`smelter state reset\` the model to rebuild it (\`smelter state verify\` checks every model))\n`,
    );
  });

  it('a committed file cut short', async () => {
    let cut = '';
    const { dir, result } = await refused(
      (d) => {
        cut = factFiles(d)[0];
        truncateSync(join(d, FACT_DIR, cut), 100);
      },
      ['run', '--select', 'fact'],
      { code: 1 },
    );
    expect(result.stderr).toMatch(
      new RegExp(`^error: committed file ${escape(uri(dir, `${FACT_DIR}/${cut}`))} of main\\.fact is 100 bytes, but its commit recorded \\d+ \\(the file was changed outside smelter; restore it, or \`smelter state reset\` the model to rebuild it\\)\n$`),
    );
  });

  it('state verify finds a file of the right size with other contents, and exits 1', async () => {
    const dir = copy();
    const file = factFiles(dir)[0];
    const bytes = readFileSync(join(dir, FACT_DIR, file));
    bytes[bytes.length - 9] ^= 0xff;
    writeFileSync(join(dir, FACT_DIR, file), bytes);
    const before = await snapshot(dir);
    const result = await cli(dir, 'state', 'verify');
    expect(result.code).toBe(1);
    expect(result.stdout.split('\n')).toEqual([
      `ERROR main.fact: committed file ${uri(dir, `${FACT_DIR}/${file}`)} does not have the SHA-256 its commit recorded (the file was changed outside smelter; restore it, or \`smelter state reset --select fact\` to rebuild the model)`,
      'OK main.ledger: version 2: table main.ledger exists',
      'OK main.members: version 2: table main.members exists',
      '1 of 3 models: state and data disagree',
      '',
    ]);
    expect(await snapshot(dir)).toEqual(before);
  });
});

describe('state and data must agree', () => {
  const lostRecord = (name: string) => (d: string) => execDuckDB(join(d, 'target/dev.duckdb'), `DELETE FROM _smelter.state WHERE table_name = 'main.${name}'`);

  it('an external model whose files exist without a record is refused, naming adopt and reset', async () => {
    const { dir, result } = await refused(lostRecord('fact'), ['run', '--select', 'fact'], { code: 1 });
    expect(result.stdout).toContain(
      `  fact: main.fact has 2 files in ${uri(dir, FACT_DIR)} but no state record: refusing to build it as a new model, which would replace that data; nothing was built (if its state was lost, \`smelter state adopt --select fact\` takes the existing data over; \`smelter state reset --select fact\` (or --full-refresh) rebuilds it from its source)`,
    );
  });

  it('a database incremental table without a record is refused', async () => {
    const { result } = await refused(lostRecord('ledger'), ['run', '--select', 'ledger'], { code: 1 });
    expect(result.stdout).toContain('  ledger: main.ledger has a table main.ledger but no state record: refusing to build it as a new model');
  });

  it('an scd2 model without a record is refused, also with --full-refresh', async () => {
    const message =
      'main.members has a table main.members but no state record: refusing to build it as a new model, which would replace that data; nothing was built (if its state was lost, `smelter state adopt --select members` takes the existing data over; `smelter state reset --select members --force` (or --full-refresh --force) rebuilds it from its source, losing the history the source no longer holds)';
    expect((await refused(lostRecord('members'), ['run', '--select', 'members'], { code: 1 })).result.stdout).toContain(`  members: ${message}\n`);
    expect((await refused(lostRecord('members'), ['run', '--select', 'members', '--full-refresh'], { code: 1 })).result.stdout).toContain(`  members: ${message}\n`);
  });

  it('state verify reports every model whose data has no record', async () => {
    const dir = copy();
    await lostRecord('fact')(dir);
    await lostRecord('members')(dir);
    const result = await cli(dir, 'state', 'verify');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`ERROR main.fact: 2 files in ${uri(dir, FACT_DIR)} but no state record: a run refuses to build it`);
    expect(result.stdout).toContain('ERROR main.members: a table main.members but no state record: a run refuses to build it');
    expect(result.stdout).toContain('2 of 3 models: state and data disagree');
  });

  it('state adopt takes the files over; the next run continues incrementally with exactly the uninterrupted rows', async () => {
    const dir = copy();
    await lostRecord('fact')(dir);
    const files = factFiles(dir);
    const adopted = await cli(dir, 'state', 'adopt', '--select', 'fact');
    expect(adopted).toEqual({ code: 0, stdout: `Adopted main.fact: adopted 2 files in ${uri(dir, FACT_DIR)}: 3 rows, watermark 3 (from the data)\n`, stderr: '' });
    expect(factFiles(dir)).toEqual(files);
    expect((await cli(dir, 'state', 'verify', '--select', 'fact')).code).toBe(0);
    writeFileSync(join(dir, 'data/orders.csv'), ORDERS_3);
    const next = await cli(dir, 'run', '--select', 'fact');
    expect(next.stdout).toMatch(/OK incremental main\.fact \.+ \[1 row in/);
    expect(await factRows(dir)).toEqual([1, 2, 3, 4].map((id) => ({ id: String(id), amount: String(id * 10) })));
  });

  it('state adopt refuses a model that has state, and a location holding other files', async () => {
    expect((await refused(() => {}, ['state', 'adopt', '--select', 'fact'], { code: 1 })).result.stderr).toBe(
      'error: main.fact already has smelter state (version 2); nothing was adopted (`smelter state verify` checks it)\n',
    );
    const { dir, result } = await refused(
      async (d) => {
        await lostRecord('fact')(d);
        writeFileSync(join(d, FACT_DIR, '_SUCCESS'), '');
      },
      ['state', 'adopt', '--select', 'fact'],
      { code: 1 },
    );
    expect(result.stderr).toBe(
      `error: main.fact: ${uri(dir, FACT_DIR)} holds files that are not Parquet (_SUCCESS); nothing was adopted (move them out of the location: a model's location holds only its committed Parquet files)\n`,
    );
  });

  it('state reset writes a reset record: the model rebuilds from its source, and nothing else does', async () => {
    const dir = copy();
    await lostRecord('ledger')(dir);
    expect(await cli(dir, 'state', 'reset', '--select', 'ledger')).toEqual({ code: 0, stdout: 'Reset the state of main.ledger: the next run rebuilds it\n', stderr: '' });
    const run = await cli(dir, 'run');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/OK incremental main\.ledger \.+ \[3 rows in/);
    // Only the reset model rebuilt: the others found no new rows.
    expect(run.stdout).toMatch(/OK incremental main\.fact \.+ \[0 rows in/);
    expect(run.stdout).toMatch(/OK scd2 main\.members \.+ \[0 rows in/);
  });

  it('scd2 with --full-refresh --force rebuilds from what the source holds (the explicit way to drop history)', async () => {
    const dir = copy();
    await lostRecord('members')(dir);
    const run = await cli(dir, 'run', '--select', 'members', '--full-refresh', '--force');
    expect(run.code).toBe(0);
    expect(await queryDuckDB(join(dir, 'target/dev.duckdb'), 'SELECT member_id, party FROM main.members ORDER BY member_id')).toEqual([{ member_id: 'A', party: 'R' }]);
  });
});

describe('runs leave no debris', () => {
  it('no staging folder is left behind by a run, committed or not', async () => {
    const dir = copy();
    expect(existsSync(join(dir, LAKE, '.smelter/staging'))).toBe(false);
    expect((await cli(dir, 'run')).code).toBe(0);
    expect(existsSync(join(dir, LAKE, '.smelter/staging'))).toBe(false);
  });
});

describe('microbatch: a lost record is refused; adopt counts the batches through the latest event as done', () => {
  const MB =
    "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='day', batch_size='day', begin='2024-06-01', lookback=1) }}\n" +
    "select cast(ts as date) as day, count(*) as events from {{ source('raw', 'events') }} group by 1\n";
  const at = (day: string) => new Date(`${day}T12:00:00Z`);

  it('refuses, adopts, and the next run rebuilds only the lookback and new batches', async () => {
    const dir = writeTempProject({
      'project.yml': 'name: mb\ntargets:\n  dev: { database: target/dev.duckdb, threads: 1 }\n',
      'models/sources.yml': 'version: 2\nsources:\n  - name: raw\n    external_location: data/events.csv\n    tables:\n      - name: events\n        config:\n          event_time: ts\n',
      'models/daily.sql': MB,
      'data/events.csv': 'ts\n2024-06-01 08:00:00\n2024-06-02 10:00:00\n2024-06-03 11:00:00\n',
    });
    const db = join(dir, 'target/dev.duckdb');
    const run = async () => (await runProject('run', { projectDir: dir, env: {}, runStartedAt: at('2024-06-03') })).run;
    expect((await run()).results.map((r) => r.status)).toEqual(['success']);
    await execDuckDB(db, "DELETE FROM _smelter.state WHERE table_name = 'main.daily'");
    const refused = await run();
    expect(refused.results[0].message).toBe(
      'main.daily has a table main.daily but no state record: refusing to build it as a new model, which would replace that data; nothing was built (if its state was lost, `smelter state adopt --select daily` takes the existing data over; `smelter state reset --select daily` (or --full-refresh) rebuilds it from its source)',
    );
    expect(await cli(dir, 'state', 'adopt', '--select', 'daily')).toEqual({ code: 0, stdout: 'Adopted main.daily: adopted table main.daily: 3 rows\n', stderr: '' });
    expect(await showState({ projectDir: dir, env: {} })).toMatchObject([{ table_name: 'main.daily', batches: [['2024-06-01T00:00:00.000Z', '2024-06-04T00:00:00.000Z']], version: 1 }]);
    // A late event for June 1 (done: kept as adopted) and a new one for June 3 (lookback: rebuilt).
    writeFileSync(join(dir, 'data/events.csv'), 'ts\n2024-06-01 08:00:00\n2024-06-01 09:00:00\n2024-06-02 10:00:00\n2024-06-03 11:00:00\n2024-06-03 12:00:00\n');
    expect((await run()).results[0].rows).toBe(2);
    expect(await queryDuckDB(db, 'select day, events from main.daily order by day')).toEqual([
      { day: '2024-06-01', events: '1' },
      { day: '2024-06-02', events: '1' },
      { day: '2024-06-03', events: '2' },
    ]);
  });
});
