import {
  BatchGetItemCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { StateError } from '../../runtime/index.js';
import { isTransientFault } from '../aws/transient-faults.js';
import { ORIGIN_ATTRIBUTE, RECORD_ATTRIBUTES, itemBytes, keyOf, sameRecord, toItem, toRecord, type Item } from './state-item.js';
import { resetRecord, type EngineConnection, type Lease, type StateRecord, type StateStore } from '../../runtime/index.js';

/** `lease_seconds` when the target does not set it. */
export const DEFAULT_LEASE_SECONDS = 900;

/**
 * Partition keys of the previous layout's lease items (`lease#<lease key>`): never a model's
 * `schema.name`. smelter no longer writes them; one a run of an earlier version holds is honoured
 * until it expires, and they are never read as records.
 */
export const LEASE_KEY_PREFIX = 'lease#';

/** A model item's attributes whose names start with this hold leases: never a record field. */
export const LEASE_ATTRIBUTE_PREFIX = 'lease_';

/** Largest state item smelter writes: well under DynamoDB's 400 KB item limit (SPEC §5). */
export const MAX_STATE_ITEM_BYTES = 350 * 1024;

/** BatchGetItem takes at most 100 keys. */
const BATCH_GET_KEYS = 100;
/** Rounds of UnprocessedKeys (throttling, the 16 MB response limit) before giving up. */
const UNPROCESSED_ROUNDS = 8;
/** Parallel requests in reset(). */
const RESET_CONCURRENCY = 8;
/** Tries to take a lease while other runs change its item. */
const CONTENDED_ROUNDS = 3;

/** The model's lease: its holder's run id, the expiry (epoch ms) and when it was taken (ISO). */
const LEASE_RUN = 'lease_run';
const LEASE_EXPIRES_AT = 'lease_expires_at';
const LEASE_ACQUIRED_AT = 'lease_acquired_at';
/** Its microbatch batches' leases: a map from batch start to { run, expires_at, acquired_at }. */
const LEASE_BATCHES = 'lease_batches';

export interface DynamoDbStateStoreOptions {
  /** `state.table`: the project's DynamoDB table, partition key `table_name` (string). Not created here. */
  readonly table: string;
  /** `state.lease_seconds` (default 900). */
  readonly leaseSeconds?: number;
  /** How often a held lease is renewed, in milliseconds (default: every `lease_seconds / 3`). */
  readonly renewEveryMs?: number;
  /** A client to use (tests, a Lambda's shared client); by default one configured from the environment. */
  readonly client?: DynamoDBClient;
  /** Target name, for error messages. */
  readonly target?: string;
  /** Clock in epoch milliseconds, for lease expiry (tests). */
  readonly now?: () => number;
}


/**
 * The `dynamodb` backend: one item per model in the project's table, holding the model's committed
 * record and the leases of the runs building it. Every write is conditional: a stale writer fails,
 * and so does a run whose lease another run has taken (fencing, SPEC §5).
 *
 * Item layout. The record: every StateRecord field, nulls as NULL attributes so a record reads
 * back exactly: table_name S · watermark_type S|NULL · watermark_data_type S|NULL ·
 * last_processed_value S|NULL · last_processed_timestamp S · rows_processed N · rows_total N ·
 * version N · run_id S · manifest_pointer S|NULL · batches S|NULL (the JSON text of the [start, end)
 * pairs, as the local backend stores it). The leases, in attributes named `lease_*`, never part of
 * the record: `lease_run` S (the holder's run id) · `lease_expires_at` N (epoch ms) ·
 * `lease_acquired_at` S, while a run holds the model; and `lease_batches` M, for microbatch models:
 * batch start → { run S, expires_at N, acquired_at S }, one entry per batch a run holds (the map
 * stays, empty, once its batches are released). An item with lease attributes only (a model's first
 * build, before its first commit) is no record: `read`, `readAll` and `reset` skip it. No `ttl`
 * attribute is ever written on an item (a table's TTL would delete the record with it).
 *
 * The conditions:
 * - take a lease (UpdateItem, creating the item if absent): `attribute_not_exists(holder) OR
 *   expires < :now OR holder = :me`; otherwise "another run holds <key>: run R, lease until T";
 * - renew it every `renewEveryMs` (a third of `lease_seconds`) while held: `SET expires` if
 *   `holder = :me`; a renewal that fails so marks the lease lost, and its commit fails without a
 *   request. The timer is unref'd: a held lease never keeps a process alive;
 * - commit (UpdateItem of the record's attributes, leaving the lease attributes as they are):
 *   `version = :expected` (the first commit: `attribute_not_exists(version)`) `AND holder = :me`;
 *   so a run whose lease expired commits only while nobody took it over since. The lease stays held;
 * - release: `REMOVE` the holder if `holder = :me` (never another run's lease); an item left with
 *   no record and no holder is deleted.
 * `holder` is `lease_run` for a model's lease and `lease_batches.<start>.run` for a batch's
 * (`schema.name@<start>`): a batch's lease lives in its model's item too, so batch commits are
 * fenced as model commits are, and concurrent batches of one model (different runs, different
 * batches) are ordered by the compare-and-set on the model's version. One item holds both, so no
 * TransactWriteItems is needed.
 *
 * Previous layout: leases were separate items `lease#<key>`. They are never read as records, and
 * taking a lease also reads the old item (in parallel): one an earlier version's run still holds
 * unexpired refuses the lease, so runs of both versions during an upgrade do not overlap (best
 * effort: the old version's commits are not fenced).
 */
export class DynamoDbStateStore implements StateStore {
  readonly backend = 'dynamodb' as const;
  readonly table: string;
  readonly leaseSeconds: number;
  readonly renewEveryMs: number;
  private readonly target: string | undefined;
  private readonly now: () => number;
  /** Leases held through this store, whose renewal timers close() stops. */
  private readonly held = new Set<HeldLease>();

  private constructor(
    private readonly client: DynamoDBClient,
    private readonly ownsClient: boolean,
    options: DynamoDbStateStoreOptions,
  ) {
    this.table = options.table;
    this.leaseSeconds = options.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
    this.renewEveryMs = options.renewEveryMs ?? (this.leaseSeconds * 1000) / 3;
    this.target = options.target;
    this.now = options.now ?? (() => Date.now());
  }

  /**
   * A store on an existing table. Makes no request: a missing table is reported by the first
   * operation (a run reads its models' state before it builds anything). The table is never
   * created here: the deployment provisions it.
   */
  static async open(options: DynamoDbStateStoreOptions): Promise<DynamoDbStateStore> {
    if (!(options.leaseSeconds === undefined || (Number.isFinite(options.leaseSeconds) && options.leaseSeconds > 0))) {
      throw new StateError(`state.lease_seconds must be a positive number, got ${options.leaseSeconds}`);
    }
    if (!(options.renewEveryMs === undefined || (Number.isFinite(options.renewEveryMs) && options.renewEveryMs > 0))) {
      throw new StateError(`the lease renewal interval must be a positive number of milliseconds, got ${options.renewEveryMs}`);
    }
    if (options.client) return new DynamoDbStateStore(options.client, false, options);
    return new DynamoDbStateStore(new DynamoDBClient(defaultClientConfig()), true, options);
  }

  async read(tableNames: readonly string[]): Promise<ReadonlyMap<string, StateRecord>> {
    // BatchGetItem rejects duplicate keys; lease items are not state.
    const names = [...new Set(tableNames)].filter((name) => !isLeaseKey(name));
    const found = new Map<string, StateRecord>();
    for (let i = 0; i < names.length; i += BATCH_GET_KEYS) {
      let keys: Item[] = names.slice(i, i + BATCH_GET_KEYS).map(keyOf);
      for (let round = 0; keys.length > 0; round++) {
        if (round > 0) {
          if (round >= UNPROCESSED_ROUNDS) {
            throw new StateError(
              `DynamoDB BatchGetItem on table ${this.table} left ${keys.length} keys unprocessed after ${UNPROCESSED_ROUNDS} attempts (throttled)`,
              { hint: 'run again, or raise the table read capacity' },
            );
          }
          await sleep(backoffMs(round));
        }
        const result = await this.call('BatchGetItem', undefined, () =>
          this.client.send(new BatchGetItemCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } })),
        );
        for (const item of result.Responses?.[this.table] ?? []) {
          if (isLeaseOnly(item)) continue;
          const record = toRecord(this.table, item);
          found.set(record.table_name, record);
        }
        keys = result.UnprocessedKeys?.[this.table]?.Keys ?? [];
      }
    }
    // In the order asked, as a caller would list them.
    return new Map(names.filter((name) => found.has(name)).map((name) => [name, found.get(name)!]));
  }

  async readAll(): Promise<StateRecord[]> {
    const records: StateRecord[] = [];
    let start: Item | undefined;
    do {
      const page = await this.call('Scan', undefined, () =>
        this.client.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, ExclusiveStartKey: start })),
      );
      for (const item of page.Items ?? []) {
        if (!isLeaseKey(item.table_name?.S ?? '') && !isLeaseOnly(item)) records.push(toRecord(this.table, item));
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return records.sort((a, b) => (a.table_name < b.table_name ? -1 : a.table_name > b.table_name ? 1 : 0));
  }

  /**
   * A conditional UpdateItem of the record's attributes: no record yet when `expectedVersion` is
   * undefined, else the stored version must still be `expectedVersion`; and in both cases `lease`
   * must still be this run's. The lease attributes are left as they are: the lease stays held.
   * `_transaction` is unused: DynamoDB cannot join DuckDB's transaction (it serves the local
   * backend, whose state lives in the same database); the caller commits its data only after this
   * write succeeded.
   */
  async commit(_transaction: EngineConnection, next: StateRecord, expectedVersion: number | undefined, lease: Lease): Promise<void> {
    if (isLeaseKey(next.table_name)) throw new StateError(`${next.table_name} is not a valid model name for state (${LEASE_KEY_PREFIX} is reserved for leases)`);
    if (!(lease instanceof HeldLease)) throw new StateError(`the commit of ${next.table_name} needs a lease taken from the dynamodb state store`);
    const slot = lease.slot;
    if (slot.item !== next.table_name) throw new StateError(`the lease on ${lease.key} does not cover ${next.table_name}; nothing was committed`);
    const item = toItem(next);
    const bytes = itemBytes(item);
    if (bytes > MAX_STATE_ITEM_BYTES) {
      throw new StateError(
        `the state record of ${next.table_name} is ${Math.ceil(bytes / 1024)} KB, over smelter's limit of ${MAX_STATE_ITEM_BYTES / 1024} KB for a DynamoDB item ` +
          `(DynamoDB's own limit is 400 KB); nothing was written`,
        {
          hint:
            next.batches !== null && next.batches.length > 1
              ? `it lists ${next.batches.length} separate ranges of committed batches: backfilling the gaps between them merges them`
              : 'a watermark or manifest pointer this long is not expected',
        },
      );
    }
    if (lease.released) throw new StateError(`the lease on ${lease.key} was released before the commit of ${next.table_name}; nothing was committed`);
    if (lease.lost) throw leaseLost(lease.key);
    const names: Record<string, string> = { '#version': 'version', '#origin': ORIGIN_ATTRIBUTE, ...namesIn(slot.names, slot.run) };
    const values: Item = { ':me': { S: lease.runId } };
    const sets = RECORD_ATTRIBUTES.map((attribute, i) => {
      names[`#f${i}`] = attribute;
      values[`:f${i}`] = item[attribute];
      return `#f${i} = :f${i}`;
    });
    let versionCondition = 'attribute_not_exists(#version)';
    if (expectedVersion !== undefined) {
      versionCondition = '#version = :expected';
      values[':expected'] = { N: String(expectedVersion) };
    }
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: keyOf(next.table_name),
          // A commit after a reset replaces its reset record: the origin marker goes.
          UpdateExpression: `SET ${sets.join(', ')} REMOVE #origin`,
          ConditionExpression: `${versionCondition} AND ${slot.run} = :me`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw await this.wrap('UpdateItem', next.table_name, error);
      // The SDK retries a request whose response was lost: if that first attempt landed, the
      // condition now fails against our own record, which is not a stale write.
      const stored = await this.getItem(next.table_name);
      if (stored !== undefined && !isLeaseOnly(stored) && this.isRecord(stored, next)) return;
      if (slot.holder(stored)?.run !== lease.runId) {
        this.lose(lease);
        throw leaseLost(lease.key);
      }
      throw staleWriter(next.table_name);
    }
  }

  /**
   * Take the lease on a model (`schema.name`) or on one of its microbatch batches
   * (`schema.name@<batch start>`), in the model's item: only if nobody holds it, its holder's lease
   * expired, or this run holds it already. While another run holds an unexpired lease this fails
   * at once with a StateError whose message starts "another run holds" (retryable: the caller maps
   * it to ConcurrentRun). A crashed holder's lease expires after `lease_seconds`; a live holder's is
   * renewed every `renewEveryMs` until it is released.
   */
  async lease(key: string, runId: string): Promise<Lease> {
    const slot = slotOf(key);
    if (isLeaseKey(slot.item)) throw new StateError(`${key} is not a valid model name for state (${LEASE_KEY_PREFIX} is reserved for leases)`);
    // The previous layout's lease item, read alongside (it never rejects: the outcome is looked at below).
    const previous = this.getItem(LEASE_KEY_PREFIX + key).then(
      (item) => ({ item, error: undefined }),
      (error: unknown) => ({ item: undefined, error }),
    );
    await this.take(slot, runId);
    const old = await previous;
    const oldRun = old.item?.run_id?.S;
    const oldExpires = Number(old.item?.expires_at?.N);
    const now = this.now();
    if (old.error !== undefined || (oldRun !== undefined && oldRun !== runId && Number.isFinite(oldExpires) && oldExpires >= now)) {
      await this.clear(slot, runId).catch(() => undefined);
      throw old.error ?? leaseHeld(key, oldRun!, oldExpires);
    }
    const lease = new HeldLease(key, runId, slot, (l) => this.release(l));
    this.held.add(lease);
    lease.timer = setInterval(() => this.renew(lease), this.renewEveryMs);
    lease.timer.unref();
    return lease;
  }

  /**
   * Write reset records (runtime/state/state-record.ts): each item's record attributes are replaced
   * and its version incremented in one UpdateItem, leaving any lease attributes alone, so a run
   * holding a lease meanwhile fails its commit as a stale write.
   */
  async reset(tableNames: readonly string[], runId: string): Promise<string[]> {
    const names = [...new Set(tableNames)].filter((name) => !isLeaseKey(name));
    const had: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const name = names[next++];
        if (await this.resetOne(name, runId)) had.push(name);
      }
    };
    await Promise.all(Array.from({ length: Math.min(RESET_CONCURRENCY, names.length) }, worker));
    return had.sort();
  }

  /** Stops renewing the leases still held (they expire); frees the client this store created (not one it was given). */
  close(): void {
    for (const lease of this.held) this.stop(lease);
    this.held.clear();
    if (this.ownsClient) this.client.destroy();
  }

  /** Whether `name` had a record (committed or legacy). */
  private async resetOne(name: string, runId: string): Promise<boolean> {
    const item = toItem(resetRecord(name, undefined, runId, new Date()));
    const names: Record<string, string> = { '#version': 'version' };
    const values: Item = { ':one': { N: '1' } };
    const sets = [...RECORD_ATTRIBUTES.filter((a) => a !== 'version'), ORIGIN_ATTRIBUTE].map((attribute, i) => {
      names[`#f${i}`] = attribute;
      values[`:f${i}`] = item[attribute];
      return `#f${i} = :f${i}`;
    });
    try {
      const result = await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: keyOf(name),
          UpdateExpression: `SET ${sets.join(', ')} ADD #version :one`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_OLD',
        }),
      );
      const old = result.Attributes;
      return old !== undefined && !isLeaseOnly(old) && old.origin?.S !== 'reset';
    } catch (error) {
      throw await this.wrap('UpdateItem', name, error);
    }
  }

  /** Write this run as the holder of `slot`, or throw "another run holds" while another run's lease is unexpired. */
  private async take(slot: LeaseSlot, runId: string): Promise<void> {
    // Between a failed condition and reading the holder, the holder may release: try again then.
    for (let attempt = 1; ; attempt++) {
      const now = this.now();
      const expiresAt = now + Math.round(this.leaseSeconds * 1000);
      const free = `attribute_not_exists(${slot.run}) OR ${slot.expires} < :now OR ${slot.run} = :me`;
      const values: Item = { ':me': { S: runId }, ':now': { N: String(now) } };
      const holder: Item = { run: { S: runId }, expires_at: { N: String(expiresAt) }, acquired_at: { S: new Date(now).toISOString() } };
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: keyOf(slot.item),
            ...(slot.batch === undefined
              ? {
                  UpdateExpression: 'SET #lr = :me, #le = :expires, #la = :acquired',
                  ConditionExpression: free,
                  ExpressionAttributeNames: { ...slot.names, '#la': LEASE_ACQUIRED_AT },
                  ExpressionAttributeValues: { ...values, ':expires': holder.expires_at, ':acquired': holder.acquired_at },
                }
              : {
                  // The map must exist to set an entry in it: when it does not, the condition fails
                  // and the map is created below.
                  UpdateExpression: `SET #lb.#b = :holder`,
                  ConditionExpression: `attribute_exists(#lb) AND (${free})`,
                  ExpressionAttributeNames: slot.names,
                  ExpressionAttributeValues: { ...values, ':holder': { M: holder } },
                }),
          }),
        );
        return;
      } catch (error) {
        if (!isConditionFailure(error)) throw await this.wrap('UpdateItem (lease)', slot.key, error);
      }
      const item = await this.getItem(slot.item);
      const current = slot.holder(item);
      if (current !== undefined && current.run !== runId && Number.isFinite(current.expiresAt) && current.expiresAt >= now) {
        throw leaseHeld(slot.key, current.run, current.expiresAt);
      }
      if (slot.batch !== undefined && item?.[LEASE_BATCHES] === undefined) {
        try {
          await this.client.send(
            new UpdateItemCommand({
              TableName: this.table,
              Key: keyOf(slot.item),
              UpdateExpression: 'SET #lb = :batches',
              ConditionExpression: 'attribute_not_exists(#lb)',
              ExpressionAttributeNames: { '#lb': LEASE_BATCHES },
              ExpressionAttributeValues: { ':batches': { M: { [slot.batch]: { M: holder } } } },
            }),
          );
          return;
        } catch (error) {
          if (!isConditionFailure(error)) throw await this.wrap('UpdateItem (lease)', slot.key, error);
        }
      }
      if (attempt >= CONTENDED_ROUNDS) {
        throw new StateError(`another run holds ${slot.key} (its lease changed three times while this run tried to take it)`, {
          hint: 'run again later',
        });
      }
    }
  }

  /** Extend a held lease; one another run has taken is lost (its commit fails without asking). */
  private renew(lease: HeldLease): void {
    if (lease.renewal !== undefined || lease.released || lease.lost) return;
    const slot = lease.slot;
    lease.renewal = this.client
      .send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: keyOf(slot.item),
          UpdateExpression: `SET ${slot.expires} = :expires`,
          ConditionExpression: `${slot.run} = :me`,
          ExpressionAttributeNames: namesIn(slot.names, slot.run, slot.expires),
          ExpressionAttributeValues: { ':me': { S: lease.runId }, ':expires': { N: String(this.now() + Math.round(this.leaseSeconds * 1000)) } },
        }),
      )
      .then(
        () => undefined,
        (error: unknown) => {
          // Another fault (throttling, the network) is retried by the next renewal; if the lease
          // expires meanwhile and another run takes it, the commit's condition refuses it.
          if (isConditionFailure(error)) this.lose(lease);
        },
      )
      .finally(() => {
        lease.renewal = undefined;
      });
  }

  /** Give the lease up if it is still this run's; an item left with no record and no lease is deleted. */
  private async release(lease: HeldLease): Promise<void> {
    if (lease.released) return;
    lease.released = true;
    this.stop(lease);
    this.held.delete(lease);
    await lease.renewal;
    // A renewal or a commit found it taken: it is another run's now.
    if (lease.lost) return;
    await this.clear(lease.slot, lease.runId);
  }

  private async clear(slot: LeaseSlot, runId: string): Promise<void> {
    let after: Item | undefined;
    try {
      const result = await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: keyOf(slot.item),
          UpdateExpression: slot.batch === undefined ? 'REMOVE #lr, #le, #la' : 'REMOVE #lb.#b',
          ConditionExpression: `${slot.run} = :me`,
          ExpressionAttributeNames: slot.batch === undefined ? { ...slot.names, '#la': LEASE_ACQUIRED_AT } : namesIn(slot.names, slot.run),
          ExpressionAttributeValues: { ':me': { S: runId } },
          ReturnValues: 'ALL_NEW',
        }),
      );
      after = result.Attributes;
    } catch (error) {
      // Not ours any more (it expired and another run took it): leave the new holder's lease.
      if (isConditionFailure(error)) return;
      throw await this.wrap('UpdateItem (lease)', slot.key, error);
    }
    if (after === undefined || !isLeaseOnly(after) || hasHolder(after)) return;
    // The lease was all the item held (a first build that committed nothing): no item is left behind.
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: keyOf(slot.item),
          ConditionExpression: 'attribute_not_exists(#version) AND attribute_not_exists(#lr) AND (attribute_not_exists(#lb) OR size(#lb) = :zero)',
          ExpressionAttributeNames: { '#version': 'version', '#lr': LEASE_RUN, '#lb': LEASE_BATCHES },
          ExpressionAttributeValues: { ':zero': { N: '0' } },
        }),
      );
    } catch (error) {
      // Another run took a lease in it, or committed, meanwhile: the item is theirs.
      if (!isConditionFailure(error)) throw await this.wrap('DeleteItem (lease)', slot.key, error);
    }
  }

  private lose(lease: HeldLease): void {
    lease.lost = true;
    this.stop(lease);
  }

  private stop(lease: HeldLease): void {
    if (lease.timer !== undefined) clearInterval(lease.timer);
    lease.timer = undefined;
  }

  private async getItem(key: string): Promise<Item | undefined> {
    const result = await this.call('GetItem', key, () =>
      this.client.send(new GetItemCommand({ TableName: this.table, Key: keyOf(key), ConsistentRead: true })),
    );
    return result.Item;
  }

  /** Runs one request, reporting AWS faults as StateErrors (throttling and 5xx were already retried by the SDK). */
  private async call<T>(operation: string, subject: string | undefined, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw await this.wrap(operation, subject, error);
    }
  }

  private async wrap(operation: string, subject: string | undefined, error: unknown): Promise<StateError> {
    const name = errorName(error);
    if (name === 'ResourceNotFoundException') {
      const region = await this.client.config.region().catch(() => undefined);
      const endpoint = await describeEndpoint(this.client);
      const where = this.target === undefined ? 'state.table' : `target ${this.target}, state.table`;
      return new StateError(`the DynamoDB table ${this.table} does not exist (${where})`, {
        hint:
          `looked in region ${region ?? '(none set)'}${endpoint === undefined ? '' : ` at ${endpoint}`}; ` +
          'smelter does not create it: the deployment provisions it, with partition key table_name (string)',
        cause: error,
      });
    }
    const message = error instanceof Error ? error.message : String(error);
    return new StateError(
      `DynamoDB ${operation} on table ${this.table}${subject === undefined ? '' : ` for ${subject}`} failed: ${name}${message && message !== name ? `: ${message}` : ''}`,
      { cause: error, transient: isTransientFault(error) },
    );
  }

  private isRecord(item: Item, record: StateRecord): boolean {
    try {
      return sameRecord(toRecord(this.table, item), record);
    } catch {
      return false;
    }
  }
}

/**
 * The client smelter makes when given none. The SDK itself reads AWS_REGION, credentials,
 * AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL (in @aws-sdk 3.1169.0: @smithy/core's
 * getEndpointUrlConfig, service id "DynamoDB"), and AWS_MAX_ATTEMPTS when set.
 */
function defaultClientConfig(): DynamoDBClientConfig {
  return {
    // Throttling, 5xx and network errors are retried with backoff (standard mode); the SDK's own
    // default for DynamoDB is 4 attempts.
    maxAttempts: process.env.AWS_MAX_ATTEMPTS ? undefined : 5,
    // The default socket timeout is 5 minutes: a stuck connection must not eat a Lambda's deadline.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 15_000 },
  };
}

function isLeaseKey(tableName: string): boolean {
  return tableName.startsWith(LEASE_KEY_PREFIX);
}

/** An item that holds leases and no record (a model's first build, before it commits): no state. */
function isLeaseOnly(item: Item): boolean {
  return Object.keys(item).every((attribute) => attribute === 'table_name' || attribute.startsWith(LEASE_ATTRIBUTE_PREFIX));
}

/** Whether any run, expired or not, is written as a holder of a lease in the item. */
function hasHolder(item: Item): boolean {
  return item[LEASE_RUN] !== undefined || Object.keys(item[LEASE_BATCHES]?.M ?? {}).length > 0;
}

/** A lease's holder as its item records it. */
interface Holder {
  readonly run: string;
  /** Epoch ms; NaN when the attribute is not a number. */
  readonly expiresAt: number;
}

/** Where a lease's holder lives in its model's item, as expression parts. */
interface LeaseSlot {
  /** The lease key: `schema.name`, or `schema.name@<batch start>`. */
  readonly key: string;
  /** The model's item: `schema.name`. */
  readonly item: string;
  /** The batch start, for a batch's lease. */
  readonly batch: string | undefined;
  /** The attribute names the paths below use. */
  readonly names: Readonly<Record<string, string>>;
  /** Paths of the holder's run id and expiry. */
  readonly run: string;
  readonly expires: string;
  holder(item: Item | undefined): Holder | undefined;
}

function slotOf(key: string): LeaseSlot {
  const at = key.lastIndexOf('@');
  if (at <= 0) {
    return {
      key,
      item: key,
      batch: undefined,
      names: { '#lr': LEASE_RUN, '#le': LEASE_EXPIRES_AT },
      run: '#lr',
      expires: '#le',
      holder: (item) => holderOf(item, LEASE_RUN, LEASE_EXPIRES_AT),
    };
  }
  const batch = key.slice(at + 1);
  return {
    key,
    item: key.slice(0, at),
    batch,
    names: { '#lb': LEASE_BATCHES, '#b': batch, '#lr': 'run', '#le': 'expires_at' },
    run: '#lb.#b.#lr',
    expires: '#lb.#b.#le',
    holder: (item) => holderOf(item?.[LEASE_BATCHES]?.M?.[batch]?.M, 'run', 'expires_at'),
  };
}

/** The names of `names` that these expressions use (DynamoDB refuses unused ones). */
function namesIn(names: Readonly<Record<string, string>>, ...expressions: string[]): Record<string, string> {
  const used = new Set(expressions.flatMap((e) => e.match(/#\w+/g) ?? []));
  return Object.fromEntries(Object.entries(names).filter(([placeholder]) => used.has(placeholder)));
}

function holderOf(fields: Item | undefined, run: string, expires: string): Holder | undefined {
  const runId = fields?.[run]?.S;
  return runId === undefined ? undefined : { run: runId, expiresAt: Number(fields?.[expires]?.N) };
}

/** A lease this backend granted: renewed by a timer until released or lost. */
class HeldLease implements Lease {
  released = false;
  /** A renewal or a commit found another run holding it: the commit fails without a request. */
  lost = false;
  timer: NodeJS.Timeout | undefined;
  /** The renewal in flight, if any. */
  renewal: Promise<void> | undefined;

  constructor(
    readonly key: string,
    readonly runId: string,
    readonly slot: LeaseSlot,
    private readonly onRelease: (lease: HeldLease) => Promise<void>,
  ) {}

  release(): Promise<void> {
    return this.onRelease(this);
  }
}

function isConditionFailure(error: unknown): boolean {
  return errorName(error) === 'ConditionalCheckFailedException';
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}

/** 50 ms, 100 ms, 200 ms … up to 2 s, with jitter. */
function backoffMs(round: number): number {
  const cap = Math.min(2_000, 50 * 2 ** (round - 1));
  return cap / 2 + Math.random() * (cap / 2);
}

async function describeEndpoint(client: DynamoDBClient): Promise<string | undefined> {
  const fromEnv = process.env.AWS_ENDPOINT_URL_DYNAMODB || process.env.AWS_ENDPOINT_URL || undefined;
  const configured = client.config.endpoint;
  if (configured === undefined) return fromEnv;
  try {
    const e = await configured();
    return `${e.protocol}//${e.hostname}${e.port === undefined ? '' : `:${e.port}`}${e.path === '/' ? '' : e.path}`;
  } catch {
    return fromEnv;
  }
}

/** As the local backend says it. */
function staleWriter(tableName: string): StateError {
  return new StateError(`the state of ${tableName} changed while this run built it (another run committed first); nothing was written`, {
    hint: 'run again',
  });
}

function leaseHeld(tableName: string, holderRun: string, expiresAt: number): StateError {
  return new StateError(`another run holds ${tableName}: run ${holderRun}, lease until ${new Date(expiresAt).toISOString()}`, {
    hint: 'retry when that run has finished; a crashed run\'s lease expires at that time',
  });
}

function leaseLost(key: string): StateError {
  return new StateError(`the lease on ${key} expired and was taken by another run; nothing was committed`, {
    hint: 'this run held it past state.lease_seconds without renewing it (paused, or cut off from DynamoDB); run again',
  });
}
