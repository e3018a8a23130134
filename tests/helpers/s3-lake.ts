import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GetItemCommand, ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { queryDuckDB } from './duckdb.js';

/**
 * What an external model looks like from outside smelter, for tests of S3 storage with DynamoDB
 * state: read behind smelter's back with clients straight to the servers (never through a
 * fault-injecting proxy), so the inspection itself cannot fail or be counted.
 *
 *   {root}/{location}/...                               the model's files
 *   {root}/{location}/_symlink_format_manifest/manifest what Athena reads
 *   {root}/.smelter/manifests/{table}/v{n}.json         file-set manifests; the state item's manifest_pointer names one
 *   {root}/.smelter/staging/                            runs' files before their publish
 */
export class S3Lake {
  constructor(
    readonly s3: S3Client,
    readonly dynamo: DynamoDBClient,
    readonly bucket: string,
    /** The storage root's prefix in the bucket (`s3://bucket/lake` → `lake`). */
    readonly root: string,
    /** The DynamoDB state table. */
    readonly table: string,
  ) {}

  /** Every object under `{root}/{prefix}/`: keys relative to that folder, sorted. */
  async list(prefix: string): Promise<Array<{ key: string; bytes: number }>> {
    const under = `${this.root}/${prefix.replace(/\/+$/, '')}/`;
    const out: Array<{ key: string; bytes: number }> = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: under, ContinuationToken: token }));
      for (const o of page.Contents ?? []) out.push({ key: o.Key!.slice(under.length), bytes: o.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** The bytes of `{root}/{key}`, or undefined when there is no such object. */
  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: `${this.root}/${key}` }));
      return await out.Body!.transformToByteArray();
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  /** The raw DynamoDB item of a model's state record (`schema.name`), or of a lease (`lease#schema.name`). */
  async item(name: string): Promise<Record<string, AttributeValue> | undefined> {
    const { Item } = await this.dynamo.send(new GetItemCommand({ TableName: this.table, Key: { table_name: { S: name } }, ConsistentRead: true }));
    return Item;
  }

  /**
   * The leases present (held, or left by a killed run until they expire), as `[lease key, expires_at
   * ms]`: a model's lease lives in its state item (`lease_run`, `lease_expires_at`), a microbatch
   * batch's in the item's `lease_batches` map (`schema.name@start`); items `lease#<key>` are the
   * previous layout's.
   */
  async leases(): Promise<Array<[string, number]>> {
    const out: Array<[string, number]> = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.dynamo.send(new ScanCommand({ TableName: this.table, ConsistentRead: true, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) {
        const name = item.table_name?.S ?? '';
        if (name.startsWith('lease#')) out.push([name.slice('lease#'.length), Number(item.expires_at?.N)]);
        if (item.lease_run?.S !== undefined) out.push([name, Number(item.lease_expires_at?.N)]);
        for (const [batch, holder] of Object.entries(item.lease_batches?.M ?? {})) out.push([`${name}@${batch}`, Number(holder.M?.expires_at?.N)]);
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return out.sort();
  }

  /** Wait until every lease item present has expired (a killed run's lease fences its model until then). */
  async waitForLeases(): Promise<void> {
    // A killed process's last request may still be in the server's hands when its exit is reported.
    await new Promise((r) => setTimeout(r, 50));
    const leases = await this.leases();
    if (leases.length === 0) return;
    const until = Math.max(...leases.map(([, expires]) => expires));
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now()) + 60));
  }

  /** Every object under a prefix with its SHA-256, to compare before and after a failed run. */
  async snapshot(prefix: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const o of await this.list(prefix)) out[o.key] = sha256(await this.get(`${prefix}/${o.key}`));
    return out;
  }

  /** The committed file set of a model, from the manifest its state item points at. */
  async committed(tableName: string): Promise<{ pointer: string | null; manifest: LakeManifest | undefined }> {
    const pointer = (await this.item(tableName))?.manifest_pointer?.S ?? null;
    if (pointer === null) return { pointer, manifest: undefined };
    const bytes = await this.get(pointer);
    return { pointer, manifest: bytes === undefined ? undefined : (JSON.parse(Buffer.from(bytes).toString('utf8')) as LakeManifest) };
  }

  /**
   * A model as a reader outside smelter finds it: its state, its committed manifest, what its
   * location holds, what its symlink manifests list, and its rows read as Athena would (the files
   * the symlink manifests list, Hive partition columns from their folders). `mismatches` names
   * every listed file that is missing, in another partition's manifest, or whose bytes or SHA-256
   * are not those its commit recorded.
   */
  async inspect(tableName: string, location: string): Promise<ModelView> {
    const { pointer, manifest } = await this.committed(tableName);
    const item = await this.item(tableName);
    const symlinkRoot = '_symlink_format_manifest/';
    const objects = await this.list(location);
    const uriPrefix = `s3://${this.bucket}/${this.root}/${location}/`;
    const recorded = new Map((manifest?.files ?? []).map((f) => [f.name, f]));
    const mismatches: string[] = [];
    // One symlink manifest per Hive partition folder (`_symlink_format_manifest/year=2024/manifest`),
    // listing the files of that folder; an unpartitioned model has one, `_symlink_format_manifest/manifest`.
    const listed: string[] = [];
    for (const o of objects.filter((o) => o.key.startsWith(symlinkRoot))) {
      const folder = o.key.slice(symlinkRoot.length, -'manifest'.length);
      const text = Buffer.from((await this.get(`${location}/${o.key}`)) ?? new Uint8Array()).toString('utf8');
      for (const uri of text.split('\n').filter((l) => l !== '')) {
        const name = uri.startsWith(uriPrefix) ? uri.slice(uriPrefix.length) : `(outside the location) ${uri}`;
        if (!name.startsWith(folder)) mismatches.push(`${name}: listed in ${o.key}`);
        listed.push(name);
      }
    }
    const into = mkdtempSync(join(tmpdir(), 'smelter-athena-'));
    const paths: string[] = [];
    try {
      for (const name of listed) {
        const bytes = await this.get(`${location}/${name}`);
        if (bytes === undefined) {
          mismatches.push(`${name}: listed but missing`);
          continue;
        }
        const file = recorded.get(name);
        if (!file || file.bytes !== bytes.length || file.sha256 !== sha256(bytes)) mismatches.push(`${name}: not the committed bytes`);
        const path = join(into, name);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, bytes);
        paths.push(path);
      }
      const files = paths.map((p) => `'${p}'`).join(', ');
      const rows =
        paths.length === 0
          ? []
          : canonicalRows(
              (await queryDuckDB(':memory:', `select * from read_parquet([${files}], union_by_name = true, hive_partitioning = true)`)).map((row) =>
                Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null ? null : String(v)])),
              ),
            );
      return {
        pointer,
        version: item?.version?.N === undefined ? undefined : Number(item.version.N),
        watermark: item?.last_processed_value?.S ?? null,
        rowsTotal: item?.rows_total?.N === undefined ? undefined : Number(item.rows_total.N),
        staging: manifest?.staging,
        committed: (manifest?.files ?? []).map((f) => f.name).sort(),
        retained: (manifest?.superseded ?? []).map((f) => f.name).sort(),
        location: objects.filter((o) => !o.key.startsWith(symlinkRoot)).map((o) => o.key),
        symlinked: listed.sort(),
        manifests: (await this.list(`.smelter/manifests/${tableName}`)).map((o) => o.key),
        mismatches,
        rows,
      };
    } finally {
      rmSync(into, { recursive: true, force: true });
    }
  }
}

export interface LakeManifest {
  readonly table_name: string;
  readonly version: number;
  readonly location: string;
  readonly files: ReadonlyArray<{ readonly name: string; readonly bytes: number; readonly sha256: string }>;
  readonly staging: string;
  readonly superseded?: ReadonlyArray<{ readonly name: string; readonly until: string }>;
}

export interface ModelView {
  /** The state item's manifest_pointer. */
  readonly pointer: string | null;
  readonly version: number | undefined;
  readonly watermark: string | null;
  readonly rowsTotal: number | undefined;
  /** The committed manifest's staging folder (relative to the root). */
  readonly staging: string | undefined;
  /** File names the committed manifest lists. */
  readonly committed: string[];
  /** Files of earlier versions the committed manifest keeps in the location for a while (`retain_superseded`). */
  readonly retained: string[];
  /** File names under the location (the symlink manifest folder left out). */
  readonly location: string[];
  /** File names the symlink manifests list. */
  readonly symlinked: string[];
  /** File names under `.smelter/manifests/<table>/`. */
  readonly manifests: string[];
  readonly mismatches: string[];
  /** Every column as a string (or null), in `canonicalRows` order. */
  readonly rows: Array<Record<string, string | null>>;
}

/**
 * Rows in one order whatever the order of their columns (a Hive partition column comes last):
 * by the columns' values in the order of the columns' names, numbers as numbers.
 */
export function canonicalRows<T extends Record<string, string | null>>(rows: readonly T[]): T[] {
  const compare = (a: string | null, b: string | null): number => {
    if (a === b) return 0;
    if (a === null) return -1;
    if (b === null) return 1;
    const x = Number(a);
    const y = Number(b);
    if (Number.isFinite(x) && Number.isFinite(y) && x !== y) return x - y;
    return a < b ? -1 : 1;
  };
  return [...rows].sort((r, s) => {
    for (const key of [...new Set([...Object.keys(r), ...Object.keys(s)])].sort()) {
      const c = compare(r[key] ?? null, s[key] ?? null);
      if (c !== 0) return c;
    }
    return 0;
  });
}

function sha256(bytes: Uint8Array | undefined): string {
  return bytes === undefined ? '(missing)' : createHash('sha256').update(bytes).digest('hex');
}
