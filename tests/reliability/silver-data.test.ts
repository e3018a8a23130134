import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { main } from '../../adapters/cli/main.js';
import type { Output } from '../../adapters/cli/reporter.js';
import { queryDuckDB } from '../helpers/duckdb.js';
import { writeTempProject } from '../helpers/temp-project.js';

/**
 * Bad Silver input: corrupt, truncated, empty and retyped Parquet files, NULL and duplicate keys,
 * NULL watermarks, missing and extra columns. Each case lands one bad file beside the committed
 * Silver data, runs one model through the CLI (in process), and asserts the exact error and exit
 * code, and that the committed Parquet files, the database tables and every state record are
 * byte-for-byte what they were. The bad file is then removed, so the cases share one built project.
 */

const PROJECT = 'name: silverdata\ntargets:\n  dev: { database: target/dev.duckdb, storage: target/lake, threads: 1 }\n';
const SOURCES = `version: 2
sources:
  - name: silver
    external_location: "data/silver/{name}/*.parquet"
    tables:
      - name: trades
        config: { event_time: ingest_ts }
        columns:
          - { name: id, data_type: BIGINT }
          - { name: seq, data_type: BIGINT }
          - { name: amount, data_type: INTEGER }
          - { name: ingest_ts, data_type: TIMESTAMP }
`;

/** Reads only Silver files it has not read (as the Gold fact does), merged on id; seq is recorded as the watermark. */
const NEW_FILES =
  "{{ config(materialized='incremental', external=true, unique_key='id', incremental_sources='new', watermark='seq') }}\nselect id, seq, amount, ingest_ts from {{ source('silver', 'trades') }}\n";
/** Reads every Silver file and keeps the rows past the watermark (NULLs too, so they are seen and refused). */
const byWatermark = (config: string) =>
  `{{ config(materialized='incremental', watermark='seq', ${config}) }}\nselect * from {{ source('silver', 'trades') }}\n{% if is_incremental() %}where seq > {{ watermark() }} or seq is null{% endif %}\n`;
const POLICIES = ['ignore', 'fail', 'append_new_columns', 'sync_all_columns'] as const;
const SHORT = { ignore: 'ignore', fail: 'fail', append_new_columns: 'anc', sync_all_columns: 'sync' } as const;

const MODELS: Record<string, string> = {
  'models/ext_new.sql': NEW_FILES,
  'models/dim.sql':
    "{{ config(materialized='scd2', external=true, unique_key='id', check_cols=['amount']) }}\nselect id, amount, ingest_ts from {{ source('silver', 'trades') }}\n",
  // scd2 over new Silver files only, as Gold's dim_member.
  'models/dim_new.sql':
    "{{ config(materialized='scd2', external=true, unique_key='id', check_cols=['amount'], incremental_sources='new') }}\nselect id, amount from {{ source('silver', 'trades') }}\n",
  // Microbatch by year (three batches from 2024 to now): a batch writes only its window.
  ...Object.fromEntries(
    ['db', 'ext'].map((kind) => [
      `models/mb_${kind}.sql`,
      `{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='ingest_ts', batch_size='year', begin='2024-01-01'${kind === 'ext' ? ', external=true' : ''}) }}\nselect * from {{ source('silver', 'trades') }}\n`,
    ]),
  ),
  ...Object.fromEntries(
    POLICIES.flatMap((p) => [
      [`models/ext_${SHORT[p]}.sql`, byWatermark(`external=true, on_schema_change='${p}'`)],
      [`models/db_${SHORT[p]}.sql`, byWatermark(`on_schema_change='${p}'`)],
    ]),
  ),
};
const DB_MODELS = [...POLICIES.map((p) => `db_${SHORT[p]}`), 'mb_db'];

let dir: string;
const silver = (file: string) => join(dir, 'data/silver/trades', file);
const database = () => join(dir, 'target/dev.duckdb');

/** Write the rows of `select` as a Parquet file of Silver. */
async function landParquet(file: string, select: string): Promise<void> {
  mkdirSync(join(dir, 'data/silver/trades'), { recursive: true });
  await queryDuckDB(':memory:', `COPY (${select}) TO '${silver(file)}' (FORMAT parquet)`);
}

const row = (id: string, seq: string, amount: string, ts: string) =>
  `SELECT ${id}::BIGINT AS id, ${seq}::BIGINT AS seq, ${amount}::INTEGER AS amount, TIMESTAMP '${ts}' AS ingest_ts`;

/** `smelter ...args --project-dir dir` in process: the exit code and every line printed. */
async function cli(args: readonly string[], projectDir = dir): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const output: Output = { out: (l) => out.push(l), err: (l) => out.push(l), status: () => {}, tty: false };
  const code = await main([...args, '--project-dir', projectDir], output);
  return { code, out };
}

/** The line the run printed for `model`'s error: `model: file: message (hint)`, the project folder as <dir>. */
function errorOf(out: readonly string[], model: string, file = `models/${model}.sql`): string {
  const line = out.map((l) => l.trim()).find((l) => l.startsWith(`${model}: ${file}: `));
  if (line === undefined) throw new Error(`no error for ${model} in:\n${out.join('\n')}`);
  return line.replaceAll(dir, '<dir>');
}

/** Every file of the lake (path -> SHA-256), every state record, and the rows of each database model. */
async function snapshot(projectDir = dir, dbModels: readonly string[] = DB_MODELS): Promise<unknown> {
  const lake = join(projectDir, 'target/lake');
  const files: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else files[relative(lake, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(lake);
  // One open of the database (read-only): the state records, each database model's rows, every column's type.
  const instance = await DuckDBInstance.create(join(projectDir, 'target/dev.duckdb'), { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  const rows = async (sql: string) => (await connection.run(sql)).getRowObjectsJson();
  const db: Record<string, unknown> = {};
  try {
    db.state = await rows('SELECT * FROM "_smelter"."state" ORDER BY ALL');
    for (const m of dbModels) db[m] = await rows(`SELECT * FROM main.${m} ORDER BY ALL`);
    db.types = await rows("SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns WHERE table_schema <> '_smelter' ORDER BY ALL");
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return { files, db };
}

/**
 * Land `file` (written by `write`), run `model`, and expect a refusal: exit 1, `message` for the
 * model, and nothing changed. The file is removed afterwards.
 */
async function refused(file: string, write: () => Promise<void> | void, model: string, message: string, extra: readonly string[] = []): Promise<void> {
  const before = await snapshot();
  await write();
  try {
    const { code, out } = await cli(['run', '--select', model, ...extra]);
    expect(errorOf(out, model)).toBe(`${model}: models/${model}.sql: ${message}`);
    expect(code).toBe(1);
    expect(await snapshot()).toEqual(before);
  } finally {
    rmSync(silver(file), { force: true });
  }
}

const parquetBytes = async (select: string): Promise<Buffer> => {
  const tmp = silver('__tmp.bin');
  await queryDuckDB(':memory:', `COPY (${select}) TO '${tmp}' (FORMAT parquet)`);
  const bytes = readFileSync(tmp);
  rmSync(tmp);
  return bytes;
};

beforeAll(async () => {
  dir = writeTempProject({ 'project.yml': PROJECT, 'models/sources.yml': SOURCES, ...MODELS });
  await landParquet('day1.parquet', [row('1', '1', '10', '2024-06-01 10:00:00'), row('2', '2', '20', '2024-06-01 11:00:00'), row('3', '3', '30', '2024-06-01 12:00:00')].join(' UNION ALL '));
  const first = await cli(['run']);
  expect(first.code, first.out.join('\n')).toBe(0);
  // A second day, so every model has committed an incremental run.
  await landParquet('day2.parquet', row('4', '4', '40', '2024-06-02 10:00:00'));
  const second = await cli(['run']);
  expect(second.code, second.out.join('\n')).toBe(0);
}, 60_000);

const TYPE_HINT = "cast it in the model, as CAST(ingest_ts AS TIMESTAMP); or set on_schema_change: sync_all_columns to change the model's type; or rebuild with --full-refresh";
const retypedTs = () => landParquet('retyped.parquet', "SELECT 5::BIGINT AS id, 5::BIGINT AS seq, 50::INTEGER AS amount, '2024-06-03T10:00:00Z' AS ingest_ts");

describe('Silver files that are not Parquet', () => {
  const garbage = () => writeFileSync(silver('garbage.parquet'), Buffer.from('this is not a parquet file, only bytes named like one\n'.repeat(20)));
  const truncated = async () => {
    const bytes = await parquetBytes(row('5', '5', '50', '2024-06-03 10:00:00'));
    writeFileSync(silver('truncated.parquet'), bytes.subarray(0, Math.floor(bytes.length / 2)));
  };

  it('garbage bytes named .parquet, read as a new file', async () => {
    await refused('garbage.parquet', garbage, 'ext_new', `Invalid Input Error: No magic bytes found at end of file '<dir>/data/silver/trades/garbage.parquet' (the statements are in target/run/models/ext_new.sql)`);
  });
  it('garbage bytes named .parquet, read through the source glob', async () => {
    await refused('garbage.parquet', garbage, 'db_ignore', `Invalid Input Error: No magic bytes found at end of file '<dir>/data/silver/trades/garbage.parquet' (the statements are in target/run/models/db_ignore.sql)`);
  });
  it('a Parquet file cut in half, read as a new file', async () => {
    await refused('truncated.parquet', truncated, 'ext_new', `Invalid Input Error: No magic bytes found at end of file '<dir>/data/silver/trades/truncated.parquet' (the statements are in target/run/models/ext_new.sql)`);
  });
  it('a Parquet file cut in half, read through the source glob', async () => {
    await refused('truncated.parquet', truncated, 'ext_ignore', `Invalid Input Error: No magic bytes found at end of file '<dir>/data/silver/trades/truncated.parquet' (the statements are in target/run/models/ext_ignore.sql)`);
  });
  it('an empty (zero-byte) file', async () => {
    await refused('empty.parquet', () => writeFileSync(silver('empty.parquet'), ''), 'ext_new', `Invalid Input Error: File '<dir>/data/silver/trades/empty.parquet' too small to be a Parquet file (the statements are in target/run/models/ext_new.sql)`);
  });
});

describe('a column whose type changes in Silver', () => {
  for (const p of POLICIES.filter((x) => x !== 'sync_all_columns')) {
    for (const kind of ['ext', 'db'] as const) {
      const model = `${kind}_${SHORT[p]}`;
      it(`${model}: ingest_ts TIMESTAMP -> VARCHAR under on_schema_change ${p}`, async () => {
        await refused(
          'retyped.parquet',
          retypedTs,
          model,
          `${model}: the new rows change the type of ingest_ts from TIMESTAMP to VARCHAR (on_schema_change: ${p}); nothing was written (${TYPE_HINT})`,
        );
      });
    }
  }
  it('ext_new (only the new file read, merged): ingest_ts TIMESTAMP -> VARCHAR', async () => {
    await refused(
      'retyped.parquet',
      retypedTs,
      'ext_new',
      `ext_new: the new rows change the type of ingest_ts from TIMESTAMP to VARCHAR (on_schema_change: ignore); nothing was written (${TYPE_HINT})`,
    );
  });
  it('a wider type than the model has is a change too: amount INTEGER -> BIGINT', async () => {
    await refused(
      'retyped.parquet',
      () => landParquet('retyped.parquet', "SELECT 5::BIGINT AS id, 5::BIGINT AS seq, 50::BIGINT AS amount, TIMESTAMP '2024-06-03 10:00:00' AS ingest_ts"),
      'ext_ignore',
      "ext_ignore: the new rows change the type of amount from INTEGER to BIGINT (on_schema_change: ignore); nothing was written (cast it in the model, as CAST(amount AS INTEGER); or set on_schema_change: sync_all_columns to change the model's type; or rebuild with --full-refresh)",
    );
  });
  for (const model of ['mb_db', 'mb_ext']) {
    // (A retyped event_time column fails before: the batch filter cannot compare VARCHAR with TIMESTAMP.)
    it(`${model} (microbatch): amount INTEGER -> VARCHAR`, async () => {
      await refused(
        'retyped.parquet',
        () => landParquet('retyped.parquet', "SELECT 5::BIGINT AS id, 5::BIGINT AS seq, 'fifty' AS amount, TIMESTAMP '2026-01-03 10:00:00' AS ingest_ts"),
        model,
        `${model}: the new rows change the type of amount from INTEGER to VARCHAR; a microbatch batch rewrites only its own window, so nothing was written (cast it in the model, as CAST(amount AS INTEGER); or rebuild with --full-refresh)`,
      );
    });
  }
  it('scd2: a retyped tracked column', async () => {
    await refused(
      'retyped.parquet',
      retypedTs,
      'dim',
      'dim: the new rows change the type of ingest_ts from TIMESTAMP to VARCHAR; an scd2 model keeps its history as it is, so nothing was written (cast it in the model, as CAST(ingest_ts AS TIMESTAMP); or rebuild with --full-refresh --force (history the source no longer holds is lost))',
    );
  });
});

describe('keys and watermarks', () => {
  it('a NULL unique key', async () => {
    await refused(
      'nullkey.parquet',
      () => landParquet('nullkey.parquet', `${row('NULL', '5', '50', '2024-06-03 10:00:00')} UNION ALL ${row('6', '6', '60', '2024-06-03 10:00:00')}`),
      'ext_new',
      'ext_new: 1 new row has a NULL in unique_key id; nothing was written',
    );
  });
  it('one key twice in one batch (merge)', async () => {
    await refused(
      'dupes.parquet',
      () => landParquet('dupes.parquet', `${row('5', '5', '50', '2024-06-03 10:00:00')} UNION ALL ${row('5', '6', '51', '2024-06-03 11:00:00')}`),
      'ext_new',
      'ext_new: 1 unique_key id value appears in more than one new row, so merge cannot tell which wins; nothing was written',
    );
  });
  const nullSeq = () => landParquet('nullseq.parquet', `${row('5', 'NULL', '50', '2024-06-03 10:00:00')} UNION ALL ${row('6', 'NULL', '60', '2024-06-03 10:00:00')} UNION ALL ${row('7', '7', '70', '2024-06-03 10:00:00')}`);
  const NULL_HINT = 'the watermark cannot track such rows: fill seq in the model (coalesce) or leave those rows out';
  it('a NULL watermark, read as a new file', async () => {
    await refused('nullseq.parquet', nullSeq, 'ext_new', `ext_new: 2 new rows have a NULL in the watermark column seq; nothing was written (${NULL_HINT})`);
  });
  it('a NULL watermark, read past the watermark', async () => {
    await refused('nullseq.parquet', nullSeq, 'db_ignore', `db_ignore: 2 new rows have a NULL in the watermark column seq; nothing was written (${NULL_HINT})`);
  });
  it('a NULL watermark in a --full-refresh', async () => {
    await refused('nullseq.parquet', nullSeq, 'ext_ignore', `ext_ignore: 2 new rows have a NULL in the watermark column seq; nothing was written (${NULL_HINT})`, ['--full-refresh']);
  });
});

describe('missing and extra columns', () => {
  it('a file without a column the model selects', async () => {
    await refused('missing.parquet', () => landParquet('missing.parquet', "SELECT 5::BIGINT AS id, 5::BIGINT AS seq, TIMESTAMP '2024-06-03 10:00:00' AS ingest_ts"), 'ext_new', 'Binder Error: Referenced column "amount" not found in FROM clause! Candidate bindings: "ingest_ts" (the statements are in target/run/models/ext_new.sql)');
  });
  for (const model of ['ext_fail', 'db_fail']) {
    it(`${model}: a file with an extra column under on_schema_change fail`, async () => {
      await refused(
        'extra.parquet',
        () => landParquet('extra.parquet', `SELECT *, 'x' AS note FROM (${row('5', '5', '50', '2024-06-03 10:00:00')})`),
        model,
        `${model}: the columns changed (new note) and on_schema_change is fail; nothing was written`,
      );
    });
  }
});

/** After the refusals: what is accepted. These cases commit, so they run last, in order. */
describe('accepted Silver changes', () => {
  /** The type of `column` in each committed file of `model` (the files its symlink manifest lists). */
  const typesOfFiles = async (model: string, column: string) => {
    const listed = readFileSync(join(dir, 'target/lake/main', model, '_symlink_format_manifest/manifest'), 'utf8').split('\n').filter(Boolean);
    const types = new Set<string>();
    for (const uri of listed) types.add(String((await queryDuckDB(':memory:', `SELECT typeof(${column}) AS t FROM read_parquet('${uri.replace(/^file:\/\//, '')}') LIMIT 1`))[0].t));
    return [...types];
  };

  it('scd2 over new files: a file whose rows change no version keeps every version (it once emptied the model)', async () => {
    const versions = () => queryDuckDB(database(), 'SELECT id, amount, valid_from, valid_to, is_current FROM main.dim_new ORDER BY id');
    const listed = () => readFileSync(join(dir, 'target/lake/main/dim_new/_symlink_format_manifest/manifest'), 'utf8');
    const [rows, files] = [await versions(), listed()];
    expect(rows).toHaveLength(4);
    await landParquet('same.parquet', row('2', '2', '20', '2024-06-01 11:00:00'));
    try {
      const { code, out } = await cli(['run', '--select', 'dim_new']);
      expect(code, out.join('\n')).toBe(0);
      expect(out).toContainEqual(expect.stringMatching(/^1 of 1 OK scd2 main\.dim_new \.+ \[0 rows in/));
      expect(await versions()).toEqual(rows);
      expect(listed()).toBe(files);
    } finally {
      rmSync(silver('same.parquet'));
    }
  });

  it('a file of no rows changes nothing', async () => {
    const before = await snapshot();
    await landParquet('none.parquet', `${row('9', '9', '90', '2024-06-03 10:00:00')} LIMIT 0`);
    const { code } = await cli(['run', '--select', 'ext_ignore', 'db_ignore']);
    expect(code).toBe(0);
    expect(await snapshot()).toEqual(before);
  });

  it('a narrower type (SMALLINT rows into an INTEGER column) keeps the model type; the snapshot sees the commit', async () => {
    const before = await snapshot();
    await landParquet('narrow.parquet', "SELECT 5::BIGINT AS id, 5::BIGINT AS seq, 50::SMALLINT AS amount, TIMESTAMP '2024-06-03 10:00:00' AS ingest_ts");
    const { code, out } = await cli(['run', '--select', 'ext_ignore', 'db_ignore']);
    expect(code, out.join('\n')).toBe(0);
    expect(await snapshot()).not.toEqual(before);
    expect(await typesOfFiles('ext_ignore', 'amount')).toEqual(['INTEGER']);
    for (const m of ['ext_ignore', 'db_ignore']) {
      expect(await queryDuckDB(database(), `SELECT id, amount, typeof(amount) AS t FROM main.${m} ORDER BY id`)).toEqual(
        [1, 2, 3, 4, 5].map((i) => ({ id: String(i), amount: i * 10, t: 'INTEGER' })),
      );
    }
  });

  it('sync_all_columns changes the type, every file rewritten, and warns', async () => {
    await landParquet('retyped.parquet', "SELECT 6::BIGINT AS id, 6::BIGINT AS seq, 60::INTEGER AS amount, '2024-06-04T10:00:00Z' AS ingest_ts");
    const { code, out } = await cli(['run', '--select', 'ext_sync', 'db_sync']);
    expect(code, out.join('\n')).toBe(0);
    for (const m of ['ext_sync', 'db_sync']) {
      expect(out).toContain(`warning: ${m}: the new rows change the type of ingest_ts from TIMESTAMP to VARCHAR; on_schema_change is sync_all_columns, so the model's column changes type`);
      expect(await queryDuckDB(database(), `SELECT id, ingest_ts, typeof(ingest_ts) AS t FROM main.${m} ORDER BY id`)).toEqual([
        { id: '1', ingest_ts: '2024-06-01 10:00:00', t: 'VARCHAR' },
        { id: '2', ingest_ts: '2024-06-01 11:00:00', t: 'VARCHAR' },
        { id: '3', ingest_ts: '2024-06-01 12:00:00', t: 'VARCHAR' },
        { id: '4', ingest_ts: '2024-06-02 10:00:00', t: 'VARCHAR' },
        { id: '5', ingest_ts: '2024-06-03 10:00:00', t: 'VARCHAR' },
        { id: '6', ingest_ts: '2024-06-04T10:00:00Z', t: 'VARCHAR' },
      ]);
    }
    expect(await typesOfFiles('ext_sync', 'ingest_ts')).toEqual(['VARCHAR']);
  });
});

/** The issue's own case, on the Gold project: a Silver file whose silver_ingest_ts is VARCHAR. */
describe('the Gold project', () => {
  const ROOT = join(import.meta.dirname, '../..');
  let gold: string;
  const TRANSACTIONS =
    'doc_id::BIGINT AS doc_id, line_number::INTEGER AS line_number, filing_date::DATE AS filing_date, notification_date::DATE AS notification_date, ' +
    'transaction_date::DATE AS transaction_date, bioguide_id, owner, ticker, asset_name, asset_type, transaction_type, ' +
    'amount_low::DECIMAL(18,2) AS amount_low, amount_high::DECIMAL(18,2) AS amount_high';
  const NAMES =
    '(doc_id, line_number, filing_date, notification_date, transaction_date, bioguide_id, owner, ticker, asset_name, asset_type, transaction_type, amount_low, amount_high, silver_ingest_ts)';
  const landTrades = async (file: string, rows: string[], ingestType: string) => {
    const folder = join(gold, 'data/silver/transactions');
    mkdirSync(folder, { recursive: true });
    await queryDuckDB(':memory:', `COPY (SELECT ${TRANSACTIONS}, silver_ingest_ts::${ingestType} AS silver_ingest_ts FROM (VALUES ${rows.join(', ')}) AS t${NAMES}) TO '${join(folder, file)}' (FORMAT parquet)`);
  };
  const FACT = 'fact_ptr_transactions';
  const FACT_FILE = 'models/gold/fact_ptr_transactions.sql';

  beforeAll(async () => {
    gold = writeTempProject({});
    for (const part of ['project.yml', 'models', 'macros']) cpSync(join(ROOT, part), join(gold, part), { recursive: true });
    mkdirSync(join(gold, 'data/silver/members'), { recursive: true });
    await queryDuckDB(
      ':memory:',
      `COPY (SELECT 'P000197' AS bioguide_id, 'Nancy' AS first_name, 'Pelosi' AS last_name, 'Democrat' AS party, 'CA' AS state, '11' AS district, ['Appropriations'] AS committees, NULL::VARCHAR AS leadership_role, DATE '2023-01-03' AS effective_date) TO '${join(gold, 'data/silver/members/day-1.parquet')}' (FORMAT parquet)`,
    );
    await landTrades('day-1.parquet', ["(20000001, 1, '2024-06-01', '2024-05-20', '2024-05-10', 'P000197', 'Self', 'NVDA', 'NVIDIA Corporation', 'Stock', 'purchase', 1001, 15000, '2024-06-02 06:00:00')"], 'TIMESTAMP');
    const first = await cli(['run', '--vars', '{calendar_start: "2024-01-01", calendar_end: "2024-12-31"}'], gold);
    expect(first.code, first.out.join('\n')).toBe(0);
  }, 60_000);

  const goldRefused = async (file: string, write: () => Promise<void>, message: string) => {
    const before = await snapshot(gold, []);
    await write();
    try {
      const { code, out } = await cli(['run', '--select', FACT], gold);
      expect(errorOf(out, FACT, FACT_FILE)).toBe(`${FACT}: ${FACT_FILE}: ${message}`);
      expect(code).toBe(1);
      expect(await snapshot(gold, [])).toEqual(before);
    } finally {
      rmSync(join(gold, 'data/silver/transactions', file), { force: true });
    }
  };

  it('silver_ingest_ts as VARCHAR: refused, the fact column stays TIMESTAMP', async () => {
    await goldRefused(
      'day-2.parquet',
      () => landTrades('day-2.parquet', ["(20000003, 1, '2024-06-20', '2024-06-18', '2024-06-16', 'P000197', 'Joint', 'AAPL', 'Apple Inc.', 'Stock', 'sale_partial', 1001, 15000, '2024-06-21T06:00:00Z')"], 'VARCHAR'),
      "fact_ptr_transactions: the new rows change the type of silver_ingest_ts from TIMESTAMP to VARCHAR (on_schema_change: ignore); nothing was written (cast it in the model, as CAST(silver_ingest_ts AS TIMESTAMP); or set on_schema_change: sync_all_columns to change the model's type; or rebuild with --full-refresh)",
    );
    expect(await queryDuckDB(join(gold, 'target/dev.duckdb'), "SELECT data_type FROM information_schema.columns WHERE table_name = 'fact_ptr_transactions' AND column_name = 'silver_ingest_ts'")).toEqual([{ data_type: 'TIMESTAMP' }]);
  });

  it('a NULL doc_id (the watermark): refused', async () => {
    await goldRefused(
      'day-2.parquet',
      () => landTrades('day-2.parquet', ["(NULL, 1, '2024-06-20', '2024-06-18', '2024-06-16', 'P000197', 'Joint', 'AAPL', 'Apple Inc.', 'Stock', 'sale_partial', 1001, 15000, '2024-06-21 06:00:00')"], 'TIMESTAMP'),
      'fact_ptr_transactions: 1 new row has a NULL in the watermark column doc_id; nothing was written (the watermark cannot track such rows: fill doc_id in the model (coalesce) or leave those rows out)',
    );
  });
});
