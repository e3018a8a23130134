import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  type AttributeValue,
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

/** Commit as a run does: under the model's lease (of run `runId`, by default the record's), released after. */
async function commitLeased(store: DynamoDbStateStore, next: StateRecord, expectedVersion: number | undefined, runId = next.run_id): Promise<void> {
  const lease = await store.lease(next.table_name, runId);
  try {
    await store.commit(NO_TRANSACTION, next, expectedVersion, lease);
  } finally {
    await lease.release();
  }
}

/** The raw item keyed `name` in `table`. */
const rawItem = async (name: string, table = TABLE) =>
  (await client.send(new GetItemCommand({ TableName: table, Key: { table_name: { S: name } }, ConsistentRead: true }))).Item;

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
    await commitLeased(store, full, undefined);
    await commitLeased(store, nulls, undefined);
    await commitLeased(store, emptyBatches, undefined);

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
    await commitLeased(store, present, undefined);
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
      for (const r of shuffled) await commitLeased(store, r, undefined);
      // A lease on a record's item, an item holding only a lease (a first build), one holding only a
      // batch's lease, and a lease item of the previous layout: none is a record.
      const leases = [
        await store.lease('gold.m000', 'run-holding'),
        await store.lease('gold.m999_first_build', 'run-holding'),
        await store.lease('gold.m998_microbatch@2024-01-01T00:00:00.000Z', 'run-holding'),
      ];
      await pagedClient.send(
        new PutItemCommand({
          TableName: table,
          Item: { table_name: { S: 'lease#gold.m001' }, run_id: { S: 'old-run' }, acquired_at: { S: '2025-01-11T10:30:00.000Z' }, expires_at: { N: String(T0 + 60_000) }, ttl: { N: String((T0 + 60_000) / 1000) } },
        }),
      );

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
      for (const lease of leases) await lease.release();
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
      for (const r of records) await commitLeased(store, r, undefined);
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
    await client.send(new PutItemCommand({ TableName: TABLE, Item: { table_name: { S: 'gold.broken' }, version: { N: '3' }, last_processed_value: { S: '12' } } }));
    const error = await stateError((await open()).read(['gold.broken']));
    expect(error.message).toBe(
      'the DynamoDB item gold.broken in table smelter-state is not a smelter state record: last_processed_timestamp is missing or not a string',
    );
  });

  it('reads the watermark record of the pipeline before smelter (no version) as a legacy record', async () => {
    const item = { table_name: { S: 'gold.legacy' }, watermark_type: { S: 'max_doc_id' }, last_processed_value: { N: '20026590' }, last_processed_timestamp: { S: '2025-01-11T10:30:00Z' }, rows_processed: { N: '1250' } };
    await client.send(new PutItemCommand({ TableName: TABLE, Item: item }));
    expect((await (await open()).read(['gold.legacy'])).get('gold.legacy')).toStrictEqual({
      table_name: 'gold.legacy',
      watermark_type: 'max_doc_id',
      watermark_data_type: null,
      last_processed_value: '20026590',
      last_processed_timestamp: '2025-01-11T10:30:00Z',
      rows_processed: 1250,
      rows_total: 1250,
      version: 0,
      run_id: '',
      manifest_pointer: null,
      batches: null,
      origin: 'legacy',
    });
  });
});

describe('dynamodb state store: conditional commits', () => {
  const STALE = (name: string) => `the state of ${name} changed while this run built it (another run committed first); nothing was written`;

  it('commits a new record, then the next version against the version read', async () => {
    const store = await open();
    const v1 = record('gold.cas', { version: 1, run_id: 'run-1' });
    const v2 = record('gold.cas', { version: 2, run_id: 'run-2', last_processed_value: '20026600', rows_total: 98_775 });
    await commitLeased(store, v1, undefined);
    expect((await store.read(['gold.cas'])).get('gold.cas')).toStrictEqual(v1);
    await commitLeased(store, v2, 1);
    expect((await store.read(['gold.cas'])).get('gold.cas')).toStrictEqual(v2);
  });

  it('fails a stale writer: of two writers from the same version, the second fails and the first one stays', async () => {
    const store = await open();
    await commitLeased(store, record('gold.stale', { version: 1 }), undefined);
    const first = record('gold.stale', { version: 2, run_id: 'run-A', last_processed_value: '100' });
    const second = record('gold.stale', { version: 2, run_id: 'run-B', last_processed_value: '200' });
    await commitLeased(store, first, 1);
    const error = await stateError(commitLeased(store, second, 1));
    expect(error.message).toBe(STALE('gold.stale'));
    expect(error.hint).toBe('run again');
    expect((await store.read(['gold.stale'])).get('gold.stale')).toStrictEqual(first);
  });

  it('fails the commit of a new record when one appeared meanwhile', async () => {
    const store = await open();
    const first = record('gold.appeared', { run_id: 'run-A' });
    const second = record('gold.appeared', { run_id: 'run-B', rows_processed: 7 });
    await commitLeased(store, first, undefined);
    const error = await stateError(commitLeased(store, second, undefined));
    expect(error.message).toBe(STALE('gold.appeared'));
    expect((await store.read(['gold.appeared'])).get('gold.appeared')).toStrictEqual(first);
  });

  it('fails a writer whose record was reset meanwhile', async () => {
    const store = await open();
    await commitLeased(store, record('gold.reset_meanwhile', { version: 1 }), undefined);
    const lease = await store.lease('gold.reset_meanwhile', 'run-2');
    await store.reset(['gold.reset_meanwhile'], 'run-reset');
    const error = await stateError(store.commit(NO_TRANSACTION, record('gold.reset_meanwhile', { version: 2 }), 1, lease));
    expect(error.message).toBe(STALE('gold.reset_meanwhile'));
    await lease.release();
    // The reset record stays after the lease is released: the next run rebuilds the model.
    expect((await store.read(['gold.reset_meanwhile'])).get('gold.reset_meanwhile')).toMatchObject(resetOf('gold.reset_meanwhile', 2));
  });

  it('takes a repeated identical commit (an SDK retry whose first attempt landed) as done, not as stale', async () => {
    const store = await open();
    const next = record('gold.retried', { version: 1, run_id: 'run-R' });
    const lease = await store.lease('gold.retried', 'run-R');
    await store.commit(NO_TRANSACTION, next, undefined, lease);
    await store.commit(NO_TRANSACTION, next, undefined, lease);
    const error = await stateError(store.commit(NO_TRANSACTION, { ...next, run_id: 'run-S' }, undefined, lease));
    expect(error.message).toBe(STALE('gold.retried'));
    await lease.release();
    // A later run's repeat of the same record is as good.
    await commitLeased(store, next, undefined, 'run-S');
    expect((await store.read(['gold.retried'])).get('gold.retried')).toStrictEqual(next);
  });

  it('refuses a record over 350 KB with a StateError naming the model, and writes nothing', async () => {
    const store = await open();
    // About 300 KB: under the limit, stored whole.
    const big = record('gold.big_batches', { batches: batchRanges(5_800) });
    await commitLeased(store, big, undefined);
    expect((await store.read(['gold.big_batches'])).get('gold.big_batches')).toStrictEqual(big);

    const huge = record('gold.huge_batches', { batches: batchRanges(8_000) });
    const error = await stateError(commitLeased(store, huge, undefined));
    expect(error.message).toMatch(
      /^the state record of gold\.huge_batches is (\d+) KB, over smelter's limit of 350 KB for a DynamoDB item \(DynamoDB's own limit is 400 KB\); nothing was written$/,
    );
    expect(Number(/is (\d+) KB/.exec(error.message)![1])).toBeGreaterThan(350);
    expect(error.hint).toBe('it lists 8000 separate ranges of committed batches: backfilling the gaps between them merges them');
    expect(await store.read(['gold.huge_batches'])).toStrictEqual(new Map());
  });
});

describe('dynamodb state store: leases', () => {
  const rawLease = (name: string) => rawItem(name);

  it('a lease held by run A makes run B fail fast, naming A and the expiry; after release B gets it', async () => {
    const a = await open({ leaseSeconds: 60, now: () => T0 });
    const b = await open({ leaseSeconds: 60, now: () => T0 + 1_000 });
    const leaseA = await a.lease('gold.leased', 'run-A');
    expect(await rawLease('gold.leased')).toStrictEqual({
      table_name: { S: 'gold.leased' },
      lease_run: { S: 'run-A' },
      lease_acquired_at: { S: '2025-01-11T10:30:00.000Z' },
      lease_expires_at: { N: String(T0 + 60_000) },
    });

    const error = await stateError(b.lease('gold.leased', 'run-B'));
    expect(error.message).toBe('another run holds gold.leased: run run-A, lease until 2025-01-11T10:31:00.000Z');
    // The same run may take its own lease again; other models are not affected.
    await (await a.lease('gold.leased', 'run-A')).release();
    expect(await rawLease('gold.leased')).toBeUndefined();
    await (await b.lease('gold.other', 'run-B')).release();

    await leaseA.release(); // already released: a no-op
    const leaseB = await b.lease('gold.leased', 'run-B');
    expect((await rawLease('gold.leased'))?.lease_run).toStrictEqual({ S: 'run-B' });
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
    expect((await rawLease('gold.expiring'))?.lease_run).toStrictEqual({ S: 'run-B' });
    const error = await stateError(after.lease('gold.expiring', 'run-C'));
    expect(error.message).toBe('another run holds gold.expiring: run run-B, lease until 2025-01-11T10:32:00.001Z');

    await leaseB.release();
    await (await after.lease('gold.expiring', 'run-C')).release();
  });

  it('uses lease_seconds 900 by default', async () => {
    const store = await open({ now: () => T0 });
    const lease = await store.lease('gold.default_lease', 'run-A');
    expect((await rawLease('gold.default_lease'))?.lease_expires_at).toStrictEqual({ N: String(T0 + 900_000) });
    await lease.release();
  });
});

describe('dynamodb state store: fencing leases', () => {
  const LOST = (key: string) => `the lease on ${key} expired and was taken by another run; nothing was committed`;
  const LOST_HINT = 'this run held it past state.lease_seconds without renewing it (paused, or cut off from DynamoDB); run again';
  const STALE = (name: string) => `the state of ${name} changed while this run built it (another run committed first); nothing was written`;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  /** The record's item as the round-trip test shows it, plus these lease attributes. */
  const recordItem = (r: StateRecord, lease: Record<string, AttributeValue> = {}) => ({
    table_name: { S: r.table_name },
    watermark_type: { S: r.watermark_type! },
    watermark_data_type: { S: r.watermark_data_type! },
    last_processed_value: { S: r.last_processed_value! },
    last_processed_timestamp: { S: r.last_processed_timestamp },
    rows_processed: { N: String(r.rows_processed) },
    rows_total: { N: String(r.rows_total) },
    version: { N: String(r.version) },
    run_id: { S: r.run_id },
    manifest_pointer: { NULL: true },
    batches: r.batches === null ? { NULL: true } : { S: JSON.stringify(r.batches) },
    ...lease,
  });

  it('the first commit of a new model happens under its lease, which stays held until released; release leaves the bare record', async () => {
    const a = await open({ leaseSeconds: 60, now: () => T0 });
    const b = await open({ leaseSeconds: 60, now: () => T0 + 1_000 });
    const lease = await a.lease('gold.first_commit', 'run-1');
    expect({ key: lease.key, runId: lease.runId }).toEqual({ key: 'gold.first_commit', runId: 'run-1' });
    const held = { lease_run: { S: 'run-1' }, lease_acquired_at: { S: '2025-01-11T10:30:00.000Z' }, lease_expires_at: { N: String(T0 + 60_000) } };
    expect(await rawItem('gold.first_commit')).toStrictEqual({ table_name: { S: 'gold.first_commit' }, ...held });

    const v1 = record('gold.first_commit', { version: 1, run_id: 'run-1' });
    await a.commit(NO_TRANSACTION, v1, undefined, lease);
    expect((await b.read(['gold.first_commit'])).get('gold.first_commit')).toStrictEqual(v1);
    expect(await rawItem('gold.first_commit')).toStrictEqual(recordItem(v1, held));
    // Still held after the commit (the publish runs under it), and still this run's to commit with.
    const refused = await stateError(b.lease('gold.first_commit', 'run-2'));
    expect(refused.message).toBe('another run holds gold.first_commit: run run-1, lease until 2025-01-11T10:31:00.000Z');
    const v2 = record('gold.first_commit', { version: 2, run_id: 'run-1', rows_total: 99_000 });
    await a.commit(NO_TRANSACTION, v2, 1, lease);

    await lease.release();
    expect(await rawItem('gold.first_commit')).toStrictEqual(recordItem(v2));
    const released = await stateError(a.commit(NO_TRANSACTION, record('gold.first_commit', { version: 3 }), 2, lease));
    expect(released.message).toBe('the lease on gold.first_commit was released before the commit of gold.first_commit; nothing was committed');
    await (await b.lease('gold.first_commit', 'run-2')).release();
    expect((await a.read(['gold.first_commit'])).get('gold.first_commit')).toStrictEqual(v2);
  });

  it('a run whose lease expired and was taken by another run cannot commit: the record is unchanged, and its release leaves the new holder', async () => {
    const a = await open({ leaseSeconds: 60, now: () => T0 });
    const b = await open({ leaseSeconds: 60, now: () => T0 + 60_001 });
    const v1 = record('gold.fenced', { version: 1, run_id: 'run-0' });
    await commitLeased(a, v1, undefined);

    const leaseA = await a.lease('gold.fenced', 'run-A');
    const leaseB = await b.lease('gold.fenced', 'run-B'); // A's lease has expired: B takes it over
    const error = await stateError(a.commit(NO_TRANSACTION, record('gold.fenced', { version: 2, run_id: 'run-A' }), 1, leaseA));
    expect(error.message).toBe(LOST('gold.fenced'));
    expect(error.hint).toBe(LOST_HINT);
    expect((await a.read(['gold.fenced'])).get('gold.fenced')).toStrictEqual(v1);

    // A's release does not clear B's lease; B commits under it.
    await leaseA.release();
    expect((await rawItem('gold.fenced'))?.lease_run).toStrictEqual({ S: 'run-B' });
    const stillB = await stateError(b.lease('gold.fenced', 'run-C'));
    expect(stillB.message).toBe('another run holds gold.fenced: run run-B, lease until 2025-01-11T10:32:00.001Z');
    const v2 = record('gold.fenced', { version: 2, run_id: 'run-B' });
    await b.commit(NO_TRANSACTION, v2, 1, leaseB);
    await leaseB.release();
    expect(await rawItem('gold.fenced')).toStrictEqual(recordItem(v2));
  });

  it('fences the first commit of a new model too: a lease taken over leaves no record', async () => {
    const a = await open({ leaseSeconds: 60, now: () => T0 });
    const b = await open({ leaseSeconds: 60, now: () => T0 + 60_001 });
    const leaseA = await a.lease('gold.fenced_new', 'run-A');
    const leaseB = await b.lease('gold.fenced_new', 'run-B');
    const error = await stateError(a.commit(NO_TRANSACTION, record('gold.fenced_new', { run_id: 'run-A' }), undefined, leaseA));
    expect(error.message).toBe(LOST('gold.fenced_new'));
    expect(await a.read(['gold.fenced_new'])).toStrictEqual(new Map());
    await leaseA.release();
    await leaseB.release();
    expect(await rawItem('gold.fenced_new')).toBeUndefined();
  });

  it('a lease is renewed every renewEveryMs: held past lease_seconds, another run is refused and the holder still commits', async () => {
    // Real clock and timers: a 500 ms lease renewed every 100 ms, held for 1.2 s.
    const a = await open({ leaseSeconds: 0.5, renewEveryMs: 100 });
    const b = await open({ leaseSeconds: 0.5 });
    const leaseA = await a.lease('gold.renewed', 'run-A');
    const taken = Date.now();
    await sleep(1_200);
    const error = await stateError(b.lease('gold.renewed', 'run-B'));
    expect(error.message).toMatch(/^another run holds gold\.renewed: run run-A, lease until \d{4}-\d\d-\d\dT[\d:.]+Z$/);
    const expires = Number((await rawItem('gold.renewed'))?.lease_expires_at?.N);
    expect(expires).toBeGreaterThan(taken + 1_200);
    const v1 = record('gold.renewed', { run_id: 'run-A' });
    await a.commit(NO_TRANSACTION, v1, undefined, leaseA);
    await leaseA.release();
    expect(await rawItem('gold.renewed')).toStrictEqual(recordItem(v1));

    // Without a renewal in time, the same lease expires and is taken over: its holder cannot commit.
    const c = await open({ leaseSeconds: 0.5, renewEveryMs: 60_000 });
    const leaseC = await c.lease('gold.renewed', 'run-C');
    await sleep(700);
    const leaseB = await b.lease('gold.renewed', 'run-B');
    const lost = await stateError(c.commit(NO_TRANSACTION, record('gold.renewed', { version: 2, run_id: 'run-C' }), 1, leaseC));
    expect(lost.message).toBe(LOST('gold.renewed'));
    await leaseC.release();
    expect((await rawItem('gold.renewed'))?.lease_run).toStrictEqual({ S: 'run-B' });
    await leaseB.release();
    expect((await b.read(['gold.renewed'])).get('gold.renewed')).toStrictEqual(v1);
  });

  it('a renewal that finds the lease taken marks it lost: the commit then fails without a request, and renewals stop', async () => {
    const countingClient = newClient();
    const counts = countCommands(countingClient);
    try {
      const a = await open({ client: countingClient, leaseSeconds: 60, now: () => T0, renewEveryMs: 50 });
      const b = await open({ leaseSeconds: 60, now: () => T0 + 60_001 });
      const v1 = record('gold.renew_lost', { version: 1, run_id: 'run-0' });
      await commitLeased(b, v1, undefined, 'run-0');
      const leaseA = await a.lease('gold.renew_lost', 'run-A');
      await sleep(120); // renewals of A's own lease succeed
      expect((await rawItem('gold.renew_lost'))?.lease_run).toStrictEqual({ S: 'run-A' });
      const leaseB = await b.lease('gold.renew_lost', 'run-B');
      await sleep(200); // the next renewal finds B's lease
      counts.clear();
      const error = await stateError(a.commit(NO_TRANSACTION, record('gold.renew_lost', { version: 2, run_id: 'run-A' }), 1, leaseA));
      expect(error.message).toBe(LOST('gold.renew_lost'));
      await sleep(150);
      await leaseA.release();
      expect([...counts.entries()]).toEqual([]);
      expect((await rawItem('gold.renew_lost'))?.lease_run).toStrictEqual({ S: 'run-B' });
      expect(Number((await rawItem('gold.renew_lost'))?.lease_expires_at?.N)).toBe(T0 + 60_001 + 60_000);
      await leaseB.release();
      expect(await rawItem('gold.renew_lost')).toStrictEqual(recordItem(v1));
    } finally {
      countingClient.destroy();
    }
  });

  it('an item holding only a lease is no record: read, readAll and reset skip it, and reset leaves the lease', async () => {
    const table = 'smelter-state-lease-only';
    await createTable(table);
    const a = await DynamoDbStateStore.open({ table, client, leaseSeconds: 60, now: () => T0 });
    const b = await DynamoDbStateStore.open({ table, client, leaseSeconds: 60, now: () => T0 + 1_000 });
    const kept = record('gold.with_record');
    await commitLeased(a, kept, undefined);
    const lease = await a.lease('gold.lease_only', 'run-A');
    expect(await rawItem('gold.lease_only', table)).toStrictEqual({
      table_name: { S: 'gold.lease_only' },
      lease_run: { S: 'run-A' },
      lease_acquired_at: { S: '2025-01-11T10:30:00.000Z' },
      lease_expires_at: { N: String(T0 + 60_000) },
    });
    expect(await b.read(['gold.lease_only', 'gold.with_record'])).toStrictEqual(new Map([['gold.with_record', kept]]));
    expect(await b.readAll()).toStrictEqual([kept]);
    await lease.release();
    expect(await rawItem('gold.lease_only', table)).toBeUndefined();
    // A reset of a model without a record writes a reset record all the same (it allows a rebuild
    // of data whose state was lost), and leaves a held lease alone.
    const again = await a.lease('gold.lease_only', 'run-A');
    expect(await b.reset(['gold.lease_only'], 'run-reset')).toEqual([]);
    const refused = await stateError(b.lease('gold.lease_only', 'run-B'));
    expect(refused.message).toBe('another run holds gold.lease_only: run run-A, lease until 2025-01-11T10:31:00.000Z');
    await again.release();
    expect(await b.reset(['gold.with_record', 'gold.lease_only'], 'run-reset')).toEqual(['gold.with_record']);
    expect(await b.readAll()).toMatchObject([resetOf('gold.lease_only', 2), resetOf('gold.with_record', 2)]);
  });

  it('honours a lease item of the previous layout while it is unexpired, and never reads it as a record', async () => {
    const store = await open({ leaseSeconds: 60, now: () => T0 });
    const v1 = record('gold.old_layout');
    await commitLeased(store, v1, undefined);
    const old = (key: string, run: string, expiresAt: number) =>
      client.send(
        new PutItemCommand({
          TableName: TABLE,
          Item: { table_name: { S: `lease#${key}` }, run_id: { S: run }, acquired_at: { S: new Date(T0).toISOString() }, expires_at: { N: String(expiresAt) }, ttl: { N: String(Math.ceil(expiresAt / 1000)) } },
        }),
      );
    await old('gold.old_layout', 'old-run', T0 + 30_000);
    const error = await stateError(store.lease('gold.old_layout', 'run-A'));
    expect(error.message).toBe('another run holds gold.old_layout: run old-run, lease until 2025-01-11T10:30:30.000Z');
    // The lease this run wrote before it read the old item is withdrawn.
    expect(await rawItem('gold.old_layout')).toStrictEqual(recordItem(v1));
    expect(await store.read(['gold.old_layout', 'lease#gold.old_layout'])).toStrictEqual(new Map([['gold.old_layout', v1]]));

    await old('gold.old_layout', 'old-run', T0 - 1); // expired
    const lease = await store.lease('gold.old_layout', 'run-A');
    await lease.release();
    await old('gold.old_batch@2024-01-01T00:00:00.000Z', 'old-run', T0 + 30_000);
    const batch = await stateError(store.lease('gold.old_batch@2024-01-01T00:00:00.000Z', 'run-A'));
    expect(batch.message).toBe('another run holds gold.old_batch@2024-01-01T00:00:00.000Z: run old-run, lease until 2025-01-11T10:30:30.000Z');
    expect(await rawItem('gold.old_batch')).toBeUndefined();
  });

  it('microbatch batches lease in the model item: one run per batch, concurrent batches ordered by version, each commit fenced by its batch lease', async () => {
    const JAN1 = 'gold.mb@2024-01-01T00:00:00.000Z';
    const JAN2 = 'gold.mb@2024-01-02T00:00:00.000Z';
    const a = await open({ leaseSeconds: 60, now: () => T0 });
    const b = await open({ leaseSeconds: 60, now: () => T0 + 1_000 });
    const c = await open({ leaseSeconds: 60, now: () => T0 + 60_001 });
    const jan1 = ['2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z'] as [string, string];
    const jan2 = ['2024-01-02T00:00:00.000Z', '2024-01-03T00:00:00.000Z'] as [string, string];

    const leaseA = await a.lease(JAN1, 'run-A');
    const holderA = { M: { run: { S: 'run-A' }, expires_at: { N: String(T0 + 60_000) }, acquired_at: { S: '2025-01-11T10:30:00.000Z' } } };
    expect(await rawItem('gold.mb')).toStrictEqual({ table_name: { S: 'gold.mb' }, lease_batches: { M: { '2024-01-01T00:00:00.000Z': holderA } } });
    expect(await b.read(['gold.mb'])).toStrictEqual(new Map());
    const held = await stateError(b.lease(JAN1, 'run-B'));
    expect(held.message).toBe('another run holds gold.mb@2024-01-01T00:00:00.000Z: run run-A, lease until 2025-01-11T10:31:00.000Z');
    // Another batch of the same model, and the model's own lease, are free.
    const leaseB = await b.lease(JAN2, 'run-B');
    await (await b.lease('gold.mb', 'run-B')).release();

    const v1 = record('gold.mb', { version: 1, run_id: 'run-A', watermark_type: null, watermark_data_type: null, last_processed_value: null, batches: [jan1] });
    await a.commit(NO_TRANSACTION, v1, undefined, leaseA);
    // B built its batch from "no record": the compare-and-set on the version refuses it.
    const stale = await stateError(b.commit(NO_TRANSACTION, record('gold.mb', { version: 1, run_id: 'run-B', batches: [jan2] }), undefined, leaseB));
    expect(stale.message).toBe(STALE('gold.mb'));
    const v2 = record('gold.mb', { version: 2, run_id: 'run-B', watermark_type: null, watermark_data_type: null, last_processed_value: null, batches: [[jan1[0], jan2[1]]] });
    await b.commit(NO_TRANSACTION, v2, 1, leaseB);
    // A batch lease is checked by the commit's condition: once taken over, its holder cannot commit.
    const leaseC = await c.lease(JAN1, 'run-C');
    const lost = await stateError(a.commit(NO_TRANSACTION, { ...v2, version: 3, run_id: 'run-A' }, 2, leaseA));
    expect(lost.message).toBe(LOST(JAN1));
    // A lease on one batch does not cover another model.
    const other = await stateError(c.commit(NO_TRANSACTION, record('gold.other_mb'), undefined, leaseC));
    expect(other.message).toBe('the lease on gold.mb@2024-01-01T00:00:00.000Z does not cover gold.other_mb; nothing was committed');
    await leaseA.release();
    await leaseB.release();
    await leaseC.release();
    expect((await a.read(['gold.mb'])).get('gold.mb')).toStrictEqual(v2);
    expect(await rawItem('gold.mb')).toStrictEqual({ ...recordItem(v2), watermark_type: { NULL: true }, watermark_data_type: { NULL: true }, last_processed_value: { NULL: true }, lease_batches: { M: {} } });
    // A batch's lease on an item with no record and no other lease leaves nothing behind.
    await (await a.lease('gold.mb_first@2024-01-01T00:00:00.000Z', 'run-A')).release();
    expect(await rawItem('gold.mb_first')).toBeUndefined();
  });

  it('a lease from the local backend, or none of this store, cannot commit', async () => {
    const store = await open();
    const foreign = { key: 'gold.foreign', runId: 'run-A', release: async () => {} };
    const error = await stateError(store.commit(NO_TRANSACTION, record('gold.foreign'), undefined, foreign));
    expect(error.message).toBe('the commit of gold.foreign needs a lease taken from the dynamodb state store');
    expect(await store.read(['gold.foreign'])).toStrictEqual(new Map());
  });
});

/** What a reset record of `name` holds (its timestamp aside). */
function resetOf(name: string, version: number) {
  return { table_name: name, origin: 'reset', version, run_id: 'run-reset', manifest_pointer: null, batches: null, last_processed_value: null, rows_total: 0 };
}

describe('dynamodb state store: reset, errors, configuration', () => {
  it('reset writes reset records and returns the names that had state, leaving leases and other models alone', async () => {
    const store = await open({ now: () => T0 });
    for (const name of ['gold.r_b', 'gold.r_a', 'gold.r_keep']) await commitLeased(store, record(name), undefined);
    const lease = await store.lease('gold.r_a', 'run-A');
    expect(await store.reset(['gold.r_b', 'gold.r_missing', 'gold.r_a', 'gold.r_b'], 'run-reset')).toEqual(['gold.r_a', 'gold.r_b']);
    const read = await store.read(['gold.r_a', 'gold.r_b', 'gold.r_keep', 'gold.r_missing']);
    expect(read.get('gold.r_keep')).toStrictEqual(record('gold.r_keep'));
    expect(read.get('gold.r_a')).toMatchObject(resetOf('gold.r_a', 2));
    expect(read.get('gold.r_missing')).toMatchObject(resetOf('gold.r_missing', 1));
    expect(await store.reset(['gold.r_a', 'gold.r_b'], 'run-reset')).toEqual([]);
    expect(await store.reset([], 'run-reset')).toEqual([]);
    const error = await stateError((await open({ now: () => T0 })).lease('gold.r_a', 'run-B'));
    expect(error.message).toMatch(/^another run holds gold\.r_a: run run-A, /);
    await lease.release();
  });

  it('a missing table is a clear StateError for every operation, and is not created', async () => {
    const store = await open({ table: 'no-such-table' });
    // A lease granted on another table: the commit still asks the missing one.
    const lease = await (await open()).lease('gold.x', 'run-A');
    const message = 'the DynamoDB table no-such-table does not exist (target aws, state.table)';
    for (const operation of [
      () => store.read(['gold.x']),
      () => store.readAll(),
      () => store.commit(NO_TRANSACTION, record('gold.x'), undefined, lease),
      () => store.commit(NO_TRANSACTION, record('gold.x', { version: 2 }), 1, lease),
      () => store.lease('gold.x', 'run-A'),
      () => store.reset(['gold.x'], 'run-reset'),
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
    await lease.release();
  });

  it('wraps other AWS errors with the operation and the error name', async () => {
    const store = await open({ table: 'ab' }); // too short for a DynamoDB table name
    const error = await stateError(store.read(['gold.x']));
    expect(error.message).toMatch(/^DynamoDB BatchGetItem on table ab failed: ValidationException: .*ab/);
    const leased = await stateError(store.lease('gold.x', 'run-A'));
    expect(leased.message).toMatch(/^DynamoDB UpdateItem \(lease\) on table ab for gold\.x failed: ValidationException: /);
    const lease = await (await open()).lease('gold.x', 'run-A');
    const commit = await stateError(store.commit(NO_TRANSACTION, record('gold.x'), undefined, lease));
    expect(commit.message).toMatch(/^DynamoDB UpdateItem on table ab for gold\.x failed: ValidationException: /);
    await lease.release();
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
      await commitLeased(viaServiceVariable, r, undefined);
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
