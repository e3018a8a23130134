import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type BatchGetItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { DynamoDbStateStore, type DynamoDbStateStoreOptions } from '../../adapters/dynamodb/dynamodb-state-store.js';
import type { StateRecord } from '../../runtime/state/state-record.js';
import type { EngineConnection } from '../../runtime/engine/engine.js';
import { StateError } from '../../runtime/errors.js';
import { createStateTable, startDynalite } from '../helpers/dynalite-server.js';

/**
 * The dynamodb state backend against dynalite (an in-process DynamoDB on LevelDB, in memory),
 * listening on a free port of 127.0.0.1 for this file. One table for the file; tests that need a
 * table to themselves (readAll) create their own.
 */

const TABLE = 'smelter-state';
const T0 = Date.parse('2025-01-11T10:30:00.000Z');
/** commit() does not use the transaction on this backend. */
const NO_TRANSACTION = undefined as unknown as EngineConnection;

let dynamo: Awaited<ReturnType<typeof startDynalite>>;
let endpoint: string;
let client: DynamoDBClient;

function newClient(): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 2 });
}

const createTable = (name: string) => createStateTable(client, name);

beforeAll(async () => {
  dynamo = await startDynalite();
  endpoint = dynamo.endpoint;
  client = newClient();
  await createTable(TABLE);
});

afterAll(async () => {
  client?.destroy();
  await dynamo?.close();
});

function record(tableName: string, overrides: Partial<StateRecord> = {}): StateRecord {
  return {
    table_name: tableName,
    watermark_type: 'max_doc_id',
    watermark_data_type: 'BIGINT',
    last_processed_value: '20026590',
    last_processed_timestamp: '2025-01-11T10:30:00Z',
    rows_processed: 1250,
    rows_total: 98_765,
    version: 1,
    run_id: 'run-1',
    manifest_pointer: null,
    batches: null,
    ...overrides,
  };
}

const open = (options: Partial<DynamoDbStateStoreOptions> = {}) => DynamoDbStateStore.open({ table: TABLE, client, target: 'aws', ...options });

async function stateError(promise: Promise<unknown>): Promise<StateError> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(StateError);
  return error as StateError;
}

/** Counts the commands a client sends, by name (ScanCommand, BatchGetItemCommand …). */
function countCommands(c: DynamoDBClient): Map<string, number> {
  const counts = new Map<string, number>();
  c.middlewareStack.add(
    (next, context) => async (args) => {
      counts.set(context.commandName ?? '?', (counts.get(context.commandName ?? '?') ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  return counts;
}

/** `n` disjoint hourly ranges with gaps between them, as a microbatch model with holes would have. */
function batchRanges(n: number): Array<[string, string]> {
  return Array.from({ length: n }, (_, i) => {
    const start = Date.UTC(2024, 0, 1) + i * 2 * 3_600_000;
    return [new Date(start).toISOString(), new Date(start + 3_600_000).toISOString()] as [string, string];
  });
}

describe('dynamodb state store: records', () => {
  it('round-trips a full record and one with every nullable field null, stored as plain attributes', async () => {
    const store = await open();
    const full = record('gold.fact_full', {
      watermark_type: 'max_event_time',
      watermark_data_type: 'TIMESTAMP WITH TIME ZONE',
      last_processed_value: '2025-01-11 10:29:59.123456+00',
      rows_processed: 0,
      rows_total: Number.MAX_SAFE_INTEGER,
      version: 41,
      run_id: 'd1c2-ünïcode-€',
      manifest_pointer: 'manifests/gold/fact_full/00041.json',
      batches: [
        ['2025-01-01T00:00:00.000Z', '2025-01-03T00:00:00.000Z'],
        ['2025-01-05T00:00:00.000Z', '2025-01-06T00:00:00.000Z'],
      ],
    });
    const nulls = record('gold.fact_nulls', {
      watermark_type: null,
      watermark_data_type: null,
      last_processed_value: null,
      manifest_pointer: null,
      batches: null,
    });
    const emptyBatches = record('gold.fact_empty', { last_processed_value: '', batches: [] });
    await store.commit(NO_TRANSACTION, full, undefined);
    await store.commit(NO_TRANSACTION, nulls, undefined);
    await store.commit(NO_TRANSACTION, emptyBatches, undefined);

    const read = await store.read(['gold.fact_full', 'gold.fact_nulls', 'gold.fact_empty']);
    expect([...read.keys()]).toEqual(['gold.fact_full', 'gold.fact_nulls', 'gold.fact_empty']);
    expect(read.get('gold.fact_full')).toStrictEqual(full);
    expect(read.get('gold.fact_nulls')).toStrictEqual(nulls);
    expect(read.get('gold.fact_empty')).toStrictEqual(emptyBatches);

    // The layout other tools (and the Gold pipeline's readers) see.
    const raw = await client.send(new GetItemCommand({ TableName: TABLE, Key: { table_name: { S: 'gold.fact_nulls' } }, ConsistentRead: true }));
    expect(raw.Item).toStrictEqual({
      table_name: { S: 'gold.fact_nulls' },
      watermark_type: { NULL: true },
      watermark_data_type: { NULL: true },
      last_processed_value: { NULL: true },
      last_processed_timestamp: { S: '2025-01-11T10:30:00Z' },
      rows_processed: { N: '1250' },
      rows_total: { N: '98765' },
      version: { N: '1' },
      run_id: { S: 'run-1' },
      manifest_pointer: { NULL: true },
      batches: { NULL: true },
    });
    const rawFull = await client.send(new GetItemCommand({ TableName: TABLE, Key: { table_name: { S: 'gold.fact_full' } }, ConsistentRead: true }));
    expect(rawFull.Item?.batches).toStrictEqual({ S: JSON.stringify(full.batches) });
    expect(rawFull.Item?.rows_total).toStrictEqual({ N: '9007199254740991' });
  });

  it('reads nothing for missing names, and only the present ones of a mixed list', async () => {
    const store = await open();
    expect(await store.read([])).toStrictEqual(new Map());
    expect(await store.read(['gold.never_built', 'gold.nor_this'])).toStrictEqual(new Map());
    const present = record('gold.read_mixed');
    await store.commit(NO_TRANSACTION, present, undefined);
    const read = await store.read(['gold.missing_a', 'gold.read_mixed', 'gold.read_mixed', 'gold.missing_b']);
    expect(read).toStrictEqual(new Map([['gold.read_mixed', present]]));
  });

  it('readAll pages through a table larger than one Scan page (1 MB), sorted, without lease items; read() batches by 100 and follows UnprocessedKeys', async () => {
    const table = 'smelter-state-pages';
    await createTable(table);
    const pagedClient = newClient();
    const counts = countCommands(pagedClient);
    try {
      const store = await DynamoDbStateStore.open({ table, client: pagedClient, now: () => T0 });
      // 60 records of about 30 KB (600 batch ranges each) make about 1.8 MB: two Scan pages at least.
      const records = Array.from({ length: 130 }, (_, i) =>
        record(`gold.m${String(i).padStart(3, '0')}`, { version: i + 1, run_id: `run-${i}`, batches: i < 60 ? batchRanges(600) : null }),
      );
      const shuffled = [...records].sort((a, b) => ((a.version * 7919) % 131) - ((b.version * 7919) % 131));
      for (const r of shuffled) await store.commit(NO_TRANSACTION, r, undefined);
      await store.lease('gold.m000', 'run-holding');

      counts.clear();
      const all = await store.readAll();
      expect(counts.get('ScanCommand')).toBeGreaterThanOrEqual(2);
      expect(all.length).toBe(130);
      expect(all).toStrictEqual(records);

      counts.clear();
      const names = [...records.map((r) => r.table_name), 'gold.absent_1', 'gold.absent_2'];
      const read = await store.read(names);
      // Two chunks (100 + 32 keys); dynalite answers at most about 1.4 MB per BatchGetItem and hands
      // the rest back as UnprocessedKeys, so the first chunk (2 MB) takes a second request.
      expect(counts.get('BatchGetItemCommand')).toBe(3);
      expect([...read.values()]).toStrictEqual(records);
    } finally {
      pagedClient.destroy();
    }
  });

  it('read() asks again for UnprocessedKeys', async () => {
    const throttledClient = newClient();
    const counts = countCommands(throttledClient);
    let throttled = false;
    // The first BatchGetItem answer hands back two of its items as unprocessed, as a throttled table does.
    throttledClient.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'BatchGetItemCommand' && !throttled) {
          throttled = true;
          const output = result.output as BatchGetItemCommandOutput;
          const held = output.Responses![TABLE].splice(0, 2);
          output.UnprocessedKeys = { [TABLE]: { Keys: held.map((item) => ({ table_name: item.table_name })), ConsistentRead: true } };
        }
        return result;
      },
      { step: 'initialize', name: 'throttle' },
    );
    try {
      const store = await open({ client: throttledClient });
      const records = ['gold.unproc_a', 'gold.unproc_b', 'gold.unproc_c'].map((name) => record(name));
      for (const r of records) await store.commit(NO_TRANSACTION, r, undefined);
      counts.clear();
      const read = await store.read(records.map((r) => r.table_name));
      expect(throttled).toBe(true);
      expect(counts.get('BatchGetItemCommand')).toBe(2);
      expect(read).toStrictEqual(new Map(records.map((r) => [r.table_name, r])));
    } finally {
      throttledClient.destroy();
    }
  });

  it('names an item that is not a smelter record', async () => {
    await client.send(new PutItemCommand({ TableName: TABLE, Item: { table_name: { S: 'gold.legacy' }, last_processed_value: { S: '12' } } }));
    const error = await stateError((await open()).read(['gold.legacy']));
    expect(error.message).toBe(
      'the DynamoDB item gold.legacy in table smelter-state is not a smelter state record: last_processed_timestamp is missing or not a string',
    );
  });
});

describe('dynamodb state store: conditional commits', () => {
  const STALE = (name: string) => `the state of ${name} changed while this run built it (another run committed first); nothing was written`;

  it('commits a new record, then the next version against the version read', async () => {
    const store = await open();
    const v1 = record('gold.cas', { version: 1, run_id: 'run-1' });
    const v2 = record('gold.cas', { version: 2, run_id: 'run-2', last_processed_value: '20026600', rows_total: 98_775 });
    await store.commit(NO_TRANSACTION, v1, undefined);
    expect((await store.read(['gold.cas'])).get('gold.cas')).toStrictEqual(v1);
    await store.commit(NO_TRANSACTION, v2, 1);
    expect((await store.read(['gold.cas'])).get('gold.cas')).toStrictEqual(v2);
  });

  it('fails a stale writer: of two writers from the same version, the second fails and the first one stays', async () => {
    const store = await open();
    await store.commit(NO_TRANSACTION, record('gold.stale', { version: 1 }), undefined);
    const first = record('gold.stale', { version: 2, run_id: 'run-A', last_processed_value: '100' });
    const second = record('gold.stale', { version: 2, run_id: 'run-B', last_processed_value: '200' });
    await store.commit(NO_TRANSACTION, first, 1);
    const error = await stateError(store.commit(NO_TRANSACTION, second, 1));
    expect(error.message).toBe(STALE('gold.stale'));
    expect(error.hint).toBe('run again');
    expect((await store.read(['gold.stale'])).get('gold.stale')).toStrictEqual(first);
  });

  it('fails the commit of a new record when one appeared meanwhile', async () => {
    const store = await open();
    const first = record('gold.appeared', { run_id: 'run-A' });
    const second = record('gold.appeared', { run_id: 'run-B', rows_processed: 7 });
    await store.commit(NO_TRANSACTION, first, undefined);
    const error = await stateError(store.commit(NO_TRANSACTION, second, undefined));
    expect(error.message).toBe(STALE('gold.appeared'));
    expect((await store.read(['gold.appeared'])).get('gold.appeared')).toStrictEqual(first);
  });

  it('fails a writer whose record was reset meanwhile', async () => {
    const store = await open();
    await store.commit(NO_TRANSACTION, record('gold.reset_meanwhile', { version: 1 }), undefined);
    await store.reset(['gold.reset_meanwhile']);
    const error = await stateError(store.commit(NO_TRANSACTION, record('gold.reset_meanwhile', { version: 2 }), 1));
    expect(error.message).toBe(STALE('gold.reset_meanwhile'));
    expect(await store.read(['gold.reset_meanwhile'])).toStrictEqual(new Map());
  });

  it('takes a repeated identical commit (an SDK retry whose first attempt landed) as done, not as stale', async () => {
    const store = await open();
    const next = record('gold.retried', { version: 1, run_id: 'run-R' });
    await store.commit(NO_TRANSACTION, next, undefined);
    await store.commit(NO_TRANSACTION, next, undefined);
    const error = await stateError(store.commit(NO_TRANSACTION, { ...next, run_id: 'run-S' }, undefined));
    expect(error.message).toBe(STALE('gold.retried'));
  });

  it('refuses a record over 350 KB with a StateError naming the model, and writes nothing', async () => {
    const store = await open();
    // About 300 KB: under the limit, stored whole.
    const big = record('gold.big_batches', { batches: batchRanges(5_800) });
    await store.commit(NO_TRANSACTION, big, undefined);
    expect((await store.read(['gold.big_batches'])).get('gold.big_batches')).toStrictEqual(big);

    const huge = record('gold.huge_batches', { batches: batchRanges(8_000) });
    const error = await stateError(store.commit(NO_TRANSACTION, huge, undefined));
    expect(error.message).toMatch(
      /^the state record of gold\.huge_batches is (\d+) KB, over smelter's limit of 350 KB for a DynamoDB item \(DynamoDB's own limit is 400 KB\); nothing was written$/,
    );
    expect(Number(/is (\d+) KB/.exec(error.message)![1])).toBeGreaterThan(350);
    expect(error.hint).toBe('it lists 8000 separate ranges of committed batches: backfilling the gaps between them merges them');
    expect(await store.read(['gold.huge_batches'])).toStrictEqual(new Map());
  });
});

describe('dynamodb state store: leases', () => {
  const rawLease = async (name: string) =>
    (await client.send(new GetItemCommand({ TableName: TABLE, Key: { table_name: { S: `lease#${name}` } }, ConsistentRead: true }))).Item;

  it('a lease held by run A makes run B fail fast, naming A and the expiry; after release B gets it', async () => {
    const a = await open({ leaseSeconds: 60, now: () => T0 });
    const b = await open({ leaseSeconds: 60, now: () => T0 + 1_000 });
    const leaseA = await a.lease('gold.leased', 'run-A');
    expect(await rawLease('gold.leased')).toStrictEqual({
      table_name: { S: 'lease#gold.leased' },
      run_id: { S: 'run-A' },
      acquired_at: { S: '2025-01-11T10:30:00.000Z' },
      expires_at: { N: String(T0 + 60_000) },
      ttl: { N: String((T0 + 60_000) / 1000) },
    });

    const error = await stateError(b.lease('gold.leased', 'run-B'));
    expect(error.message).toBe('another run holds gold.leased: run run-A, lease until 2025-01-11T10:31:00.000Z');
    // The same run may take its own lease again; other models are not affected.
    await (await a.lease('gold.leased', 'run-A')).release();
    expect(await rawLease('gold.leased')).toBeUndefined();
    await (await b.lease('gold.other', 'run-B')).release();

    await leaseA.release(); // already released: a no-op
    const leaseB = await b.lease('gold.leased', 'run-B');
    expect((await rawLease('gold.leased'))?.run_id).toStrictEqual({ S: 'run-B' });
    await leaseB.release();
    expect(await rawLease('gold.leased')).toBeUndefined();
  });

  it('takes over an expired lease; the run that lost it does not release the new holder', async () => {
    const a = await open({ leaseSeconds: 60, now: () => T0 });
    const atExpiry = await open({ leaseSeconds: 60, now: () => T0 + 60_000 });
    const after = await open({ leaseSeconds: 60, now: () => T0 + 60_001 });
    const leaseA = await a.lease('gold.expiring', 'run-A');

    const stillHeld = await stateError(atExpiry.lease('gold.expiring', 'run-B'));
    expect(stillHeld.message).toBe('another run holds gold.expiring: run run-A, lease until 2025-01-11T10:31:00.000Z');

    const leaseB = await after.lease('gold.expiring', 'run-B');
    await leaseA.release(); // A's lease is gone: this must not delete B's
    expect((await rawLease('gold.expiring'))?.run_id).toStrictEqual({ S: 'run-B' });
    const error = await stateError(after.lease('gold.expiring', 'run-C'));
    expect(error.message).toBe('another run holds gold.expiring: run run-B, lease until 2025-01-11T10:32:00.001Z');

    await leaseB.release();
    await (await after.lease('gold.expiring', 'run-C')).release();
  });

  it('uses lease_seconds 900 by default', async () => {
    const store = await open({ now: () => T0 });
    const lease = await store.lease('gold.default_lease', 'run-A');
    expect((await rawLease('gold.default_lease'))?.expires_at).toStrictEqual({ N: String(T0 + 900_000) });
    await lease.release();
  });
});

describe('dynamodb state store: reset, errors, configuration', () => {
  it('reset deletes the records and returns the names that had state, leaving leases and other models alone', async () => {
    const store = await open({ now: () => T0 });
    for (const name of ['gold.r_b', 'gold.r_a', 'gold.r_keep']) await store.commit(NO_TRANSACTION, record(name), undefined);
    const lease = await store.lease('gold.r_a', 'run-A');
    expect(await store.reset(['gold.r_b', 'gold.r_missing', 'gold.r_a', 'gold.r_b'])).toEqual(['gold.r_a', 'gold.r_b']);
    expect(await store.read(['gold.r_a', 'gold.r_b', 'gold.r_keep'])).toStrictEqual(new Map([['gold.r_keep', record('gold.r_keep')]]));
    expect(await store.reset(['gold.r_a', 'gold.r_b'])).toEqual([]);
    expect(await store.reset([])).toEqual([]);
    const error = await stateError((await open({ now: () => T0 })).lease('gold.r_a', 'run-B'));
    expect(error.message).toMatch(/^another run holds gold\.r_a: run run-A, /);
    await lease.release();
  });

  it('a missing table is a clear StateError for every operation, and is not created', async () => {
    const store = await open({ table: 'no-such-table' });
    const message = 'the DynamoDB table no-such-table does not exist (target aws, state.table)';
    for (const operation of [
      () => store.read(['gold.x']),
      () => store.readAll(),
      () => store.commit(NO_TRANSACTION, record('gold.x'), undefined),
      () => store.commit(NO_TRANSACTION, record('gold.x', { version: 2 }), 1),
      () => store.lease('gold.x', 'run-A'),
      () => store.reset(['gold.x']),
    ]) {
      const error = await stateError(operation());
      expect(error.message).toBe(message);
      expect(error.hint).toBe(
        `looked in region us-east-1 at ${endpoint}; smelter does not create it: the deployment provisions it, with partition key table_name (string)`,
      );
    }
    const withoutTarget = await stateError((await DynamoDbStateStore.open({ table: 'no-such-table', client })).readAll());
    expect(withoutTarget.message).toBe('the DynamoDB table no-such-table does not exist (state.table)');
    const described = client.send(new DescribeTableCommand({ TableName: 'no-such-table' }));
    await expect(described).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('wraps other AWS errors with the operation and the error name', async () => {
    const store = await open({ table: 'ab' }); // too short for a DynamoDB table name
    const error = await stateError(store.read(['gold.x']));
    expect(error.message).toMatch(/^DynamoDB BatchGetItem on table ab failed: ValidationException: .*ab/);
    const commit = await stateError(store.commit(NO_TRANSACTION, record('gold.x'), undefined));
    expect(commit.message).toMatch(/^DynamoDB PutItem on table ab for gold\.x failed: ValidationException: /);
  });

  it('makes its own client from AWS_ENDPOINT_URL_DYNAMODB (before AWS_ENDPOINT_URL) and AWS_REGION', async () => {
    const keys = ['AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL', 'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_MAX_ATTEMPTS'] as const;
    const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
    try {
      process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
      process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:9'; // nothing listens there: must not be used
      process.env.AWS_REGION = 'eu-west-1';
      process.env.AWS_ACCESS_KEY_ID = 'test';
      process.env.AWS_SECRET_ACCESS_KEY = 'test';
      process.env.AWS_MAX_ATTEMPTS = '1';
      const viaServiceVariable = await DynamoDbStateStore.open({ table: TABLE });
      const r = record('gold.from_env');
      await viaServiceVariable.commit(NO_TRANSACTION, r, undefined);
      viaServiceVariable.close();
      expect((await (await open()).read(['gold.from_env'])).get('gold.from_env')).toStrictEqual(r);

      delete process.env.AWS_ENDPOINT_URL_DYNAMODB;
      process.env.AWS_ENDPOINT_URL = endpoint;
      const viaGeneralVariable = await DynamoDbStateStore.open({ table: TABLE });
      expect((await viaGeneralVariable.read(['gold.from_env'])).get('gold.from_env')).toStrictEqual(r);
      const missingStore = await DynamoDbStateStore.open({ table: 'no-such-table' });
      const missing = await stateError(missingStore.readAll());
      missingStore.close();
      expect(missing.hint).toBe(
        `looked in region eu-west-1 at ${endpoint}; smelter does not create it: the deployment provisions it, with partition key table_name (string)`,
      );
      viaGeneralVariable.close();
    } finally {
      for (const k of keys) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});
