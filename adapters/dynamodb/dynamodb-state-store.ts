import {
  BatchGetItemCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  type AttributeValue,
  type DynamoDBClientConfig,
  type PutItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { StateError } from '../../runtime/index.js';
import type { EngineConnection, Lease, StateRecord, StateStore } from '../../runtime/index.js';

/** `lease_seconds` when the target does not set it. */
export const DEFAULT_LEASE_SECONDS = 900;

/** Lease items share the state table: partition key `lease#<table_name>`. Never a model's `schema.name`. */
export const LEASE_KEY_PREFIX = 'lease#';

/** Largest state item smelter writes: well under DynamoDB's 400 KB item limit (SPEC §5). */
export const MAX_STATE_ITEM_BYTES = 350 * 1024;

/** BatchGetItem takes at most 100 keys. */
const BATCH_GET_KEYS = 100;
/** Rounds of UnprocessedKeys (throttling, the 16 MB response limit) before giving up. */
const UNPROCESSED_ROUNDS = 8;
/** Parallel DeleteItem calls in reset(). */
const RESET_CONCURRENCY = 8;

export interface DynamoDbStateStoreOptions {
  /** `state.table`: the project's DynamoDB table, partition key `table_name` (string). Not created here. */
  readonly table: string;
  /** `state.lease_seconds` (default 900). */
  readonly leaseSeconds?: number;
  /** A client to use (tests, a Lambda's shared client); by default one configured from the environment. */
  readonly client?: DynamoDBClient;
  /** Target name, for error messages. */
  readonly target?: string;
  /** Clock in epoch milliseconds, for lease expiry (tests). */
  readonly now?: () => number;
}

type Item = Record<string, AttributeValue>;

/**
 * The `dynamodb` backend: one item per model in the project's table, published with conditional
 * writes (a stale writer fails), plus one lease item per model being built (`lease#<table_name>`)
 * that stops a second concurrent run of the model until the first releases it or its lease expires.
 *
 * Item layout (every StateRecord field, nulls as NULL attributes so a record reads back exactly):
 * table_name S · watermark_type S|NULL · watermark_data_type S|NULL · last_processed_value S|NULL ·
 * last_processed_timestamp S · rows_processed N · rows_total N · version N · run_id S ·
 * manifest_pointer S|NULL · batches S|NULL (the JSON text of the [start, end) pairs, as the local
 * backend stores it).
 */
export class DynamoDbStateStore implements StateStore {
  readonly backend = 'dynamodb' as const;
  readonly table: string;
  readonly leaseSeconds: number;
  private readonly target: string | undefined;
  private readonly now: () => number;

  private constructor(
    private readonly client: DynamoDBClient,
    private readonly ownsClient: boolean,
    options: DynamoDbStateStoreOptions,
  ) {
    this.table = options.table;
    this.leaseSeconds = options.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
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
          const record = this.toRecord(item);
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
        if (!isLeaseKey(item.table_name?.S ?? '')) records.push(this.toRecord(item));
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return records.sort((a, b) => (a.table_name < b.table_name ? -1 : a.table_name > b.table_name ? 1 : 0));
  }

  /**
   * A conditional PutItem: no item yet when `expectedVersion` is undefined, else the stored version
   * must still be `expectedVersion`. `_transaction` is unused: DynamoDB cannot join DuckDB's
   * transaction (it serves the local backend, whose state lives in the same database); the caller
   * commits its data only after this write succeeded.
   */
  async commit(_transaction: EngineConnection, next: StateRecord, expectedVersion: number | undefined): Promise<void> {
    if (isLeaseKey(next.table_name)) throw new StateError(`${next.table_name} is not a valid model name for state (${LEASE_KEY_PREFIX} is reserved for leases)`);
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
    const condition: Pick<PutItemCommandInput, 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> =
      expectedVersion === undefined
        ? { ConditionExpression: 'attribute_not_exists(#key)', ExpressionAttributeNames: { '#key': 'table_name' } }
        : {
            ConditionExpression: '#version = :expected',
            ExpressionAttributeNames: { '#version': 'version' },
            ExpressionAttributeValues: { ':expected': { N: String(expectedVersion) } },
          };
    try {
      await this.client.send(new PutItemCommand({ TableName: this.table, Item: item, ...condition }));
    } catch (error) {
      if (!isConditionFailure(error)) throw await this.wrap('PutItem', next.table_name, error);
      // The SDK retries a request whose response was lost: if that first attempt landed, the
      // condition now fails against our own record, which is not a stale write.
      const stored = await this.getItem(next.table_name);
      if (stored !== undefined && this.isRecord(stored, next)) return;
      throw staleWriter(next.table_name);
    }
  }

  /**
   * A lease item `lease#<tableName>` written only if absent, expired, or already this run's. While
   * another run holds an unexpired lease this fails at once with a StateError whose message starts
   * "another run holds" (retryable: the caller maps it to ConcurrentRun). A crashed holder's lease
   * expires after `lease_seconds`; leases are not renewed, so a model must finish within them.
   */
  async lease(tableName: string, runId: string): Promise<Lease> {
    const key = LEASE_KEY_PREFIX + tableName;
    // Between a failed condition and reading the holder, the holder may release: try again then.
    for (let attempt = 1; ; attempt++) {
      const now = this.now();
      const expiresAt = now + Math.round(this.leaseSeconds * 1000);
      try {
        await this.client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: {
              table_name: { S: key },
              run_id: { S: runId },
              acquired_at: { S: new Date(now).toISOString() },
              expires_at: { N: String(expiresAt) },
              // Epoch seconds: if the table has TTL on `ttl`, DynamoDB eventually deletes crashed
              // holders' leases. Correctness never depends on it (expires_at decides).
              ttl: { N: String(Math.ceil(expiresAt / 1000)) },
            },
            ConditionExpression: 'attribute_not_exists(#key) OR #expires < :now OR #run = :run',
            ExpressionAttributeNames: { '#key': 'table_name', '#expires': 'expires_at', '#run': 'run_id' },
            ExpressionAttributeValues: { ':now': { N: String(now) }, ':run': { S: runId } },
          }),
        );
        break;
      } catch (error) {
        if (!isConditionFailure(error)) throw await this.wrap('PutItem (lease)', tableName, error);
        const holder = await this.getItem(key);
        const holderRun = holder?.run_id?.S;
        const holderExpires = Number(holder?.expires_at?.N);
        if (holder !== undefined && holderRun !== undefined && Number.isFinite(holderExpires) && holderExpires >= now && holderRun !== runId) {
          throw leaseHeld(tableName, holderRun, holderExpires);
        }
        if (attempt >= 3) {
          throw new StateError(`another run holds ${tableName} (its lease changed three times while this run tried to take it)`, {
            hint: 'run again later',
          });
        }
      }
    }
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        try {
          await this.client.send(
            new DeleteItemCommand({
              TableName: this.table,
              Key: keyOf(key),
              ConditionExpression: '#run = :run',
              ExpressionAttributeNames: { '#run': 'run_id' },
              ExpressionAttributeValues: { ':run': { S: runId } },
            }),
          );
        } catch (error) {
          // Not ours any more (it expired and another run took it): leave the new holder's lease.
          if (isConditionFailure(error)) return;
          throw await this.wrap('DeleteItem (lease)', tableName, error);
        }
      },
    };
  }

  async reset(tableNames: readonly string[]): Promise<string[]> {
    const names = [...new Set(tableNames)].filter((name) => !isLeaseKey(name));
    const had: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const name = names[next++];
        const result = await this.call('DeleteItem', name, () =>
          this.client.send(new DeleteItemCommand({ TableName: this.table, Key: keyOf(name), ReturnValues: 'ALL_OLD' })),
        );
        if (result.Attributes !== undefined) had.push(name);
      }
    };
    await Promise.all(Array.from({ length: Math.min(RESET_CONCURRENCY, names.length) }, worker));
    return had.sort();
  }

  /** Frees the client this store created (not one it was given). */
  close(): void {
    if (this.ownsClient) this.client.destroy();
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
      { cause: error },
    );
  }

  private isRecord(item: Item, record: StateRecord): boolean {
    try {
      return sameRecord(this.toRecord(item), record);
    } catch {
      return false;
    }
  }

  private toRecord(item: Item): StateRecord {
    const name = item.table_name?.S;
    const malformed = (attribute: string, expected: string) =>
      new StateError(
        `the DynamoDB item ${name ?? '(without table_name)'} in table ${this.table} is not a smelter state record: ${attribute} is missing or not ${expected}`,
        { hint: 'was it written by another tool? `smelter state reset --select` removes it' },
      );
    if (name === undefined) throw malformed('table_name', 'a string');
    const text = (attribute: string): string | null => {
      const value = item[attribute];
      if (value === undefined || value.NULL === true) return null;
      if (value.S !== undefined) return value.S;
      throw malformed(attribute, 'a string or null');
    };
    const requiredText = (attribute: string): string => {
      const value = text(attribute);
      if (value === null) throw malformed(attribute, 'a string');
      return value;
    };
    const number = (attribute: string): number => {
      const value = item[attribute]?.N;
      if (value === undefined || !Number.isFinite(Number(value))) throw malformed(attribute, 'a number');
      return Number(value);
    };
    const batchesText = text('batches');
    let batches: Array<[string, string]> | null = null;
    if (batchesText !== null) {
      try {
        batches = JSON.parse(batchesText) as Array<[string, string]>;
      } catch {
        throw malformed('batches', 'JSON text');
      }
      if (!Array.isArray(batches) || !batches.every((b) => Array.isArray(b) && b.length === 2 && b.every((x) => typeof x === 'string'))) {
        throw malformed('batches', 'a JSON list of [start, end] pairs');
      }
    }
    return {
      table_name: name,
      watermark_type: text('watermark_type'),
      watermark_data_type: text('watermark_data_type'),
      last_processed_value: text('last_processed_value'),
      last_processed_timestamp: requiredText('last_processed_timestamp'),
      rows_processed: number('rows_processed'),
      rows_total: number('rows_total'),
      version: number('version'),
      run_id: requiredText('run_id'),
      manifest_pointer: text('manifest_pointer'),
      batches,
    };
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

function keyOf(tableName: string): Item {
  return { table_name: { S: tableName } };
}

function isLeaseKey(tableName: string): boolean {
  return tableName.startsWith(LEASE_KEY_PREFIX);
}

function toItem(r: StateRecord): Item {
  const text = (x: string | null): AttributeValue => (x === null ? { NULL: true } : { S: x });
  const number = (field: string, x: number): AttributeValue => {
    if (!Number.isFinite(x)) throw new StateError(`the state record of ${r.table_name} has ${field} = ${x}, not a number`);
    return { N: String(x) };
  };
  return {
    table_name: { S: r.table_name },
    watermark_type: text(r.watermark_type),
    watermark_data_type: text(r.watermark_data_type),
    last_processed_value: text(r.last_processed_value),
    last_processed_timestamp: { S: r.last_processed_timestamp },
    rows_processed: number('rows_processed', r.rows_processed),
    rows_total: number('rows_total', r.rows_total),
    version: number('version', r.version),
    run_id: { S: r.run_id },
    manifest_pointer: text(r.manifest_pointer),
    batches: text(r.batches === null ? null : JSON.stringify(r.batches)),
  };
}

/** An item's size as DynamoDB counts it (attribute names plus values, UTF-8), rounded up for numbers. */
function itemBytes(item: Item): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    bytes += Buffer.byteLength(name, 'utf8');
    if (value.S !== undefined) bytes += Buffer.byteLength(value.S, 'utf8');
    else if (value.N !== undefined) bytes += value.N.length + 1;
    else bytes += 1;
  }
  return bytes;
}

function sameRecord(a: StateRecord, b: StateRecord): boolean {
  const normal = (r: StateRecord) =>
    JSON.stringify([
      r.table_name,
      r.watermark_type,
      r.watermark_data_type,
      r.last_processed_value,
      r.last_processed_timestamp,
      r.rows_processed,
      r.rows_total,
      r.version,
      r.run_id,
      r.manifest_pointer,
      r.batches,
    ]);
  return normal(a) === normal(b);
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
