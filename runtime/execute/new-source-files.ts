import { createHash } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { ExecutionError, StorageError } from '../errors.js';
import type { Manifest, ModelNode, SourceNode } from '../manifest/types.js';
import { isRemoteAddress } from '../backends.js';
import { nodesRead } from '../graph/reads.js';
import { quoteIdentifier, quoteLiteral } from '../render/relation.js';
import { readFilesSql } from '../render/render-model.js';
import type { FileReader, SourceObject } from '../storage/file-reader.js';
import type { FileSetManifest, LocalFiles, ProcessedSets, Storage } from '../storage/storage.js';
import { processedRootOf } from './file-sets.js';

/**
 * `incremental_sources: new` (SPEC §9): on an incremental run, a model reads only the source files
 * it has not processed before, by address and tag (S3's ETag; locally size and modification time),
 * so a cold Lambda does not download years of Silver to find one day's objects.
 *
 * The processed set is the model's incremental boundary and commits with its file set: the
 * file-set manifest names, per source, the chunk files holding the set. An address falls in one
 * of CHUNKS chunks by its hash, and a commit writes only the chunks whose entries changed (a day's
 * new files touch a few), under new keys — a committed chunk is never rewritten in place.
 *
 * A rewritten file counts as new (its rows are read again: the model's unique key keeps them
 * single); a file that disappeared leaves the set with a warning. A full build reads every file
 * and replaces the set.
 */
export const CHUNKS = 16;

/** One source's files as this run reads them. */
interface SourceRead {
  readonly source: SourceNode;
  /** Every file the location matches now. */
  readonly present: readonly SourceObject[];
  /** The files this run reads. */
  readonly read: readonly SourceObject[];
  /** The committed set (address -> tag), or empty for a full build. */
  readonly committed: ReadonlyMap<string, string>;
  /** Chunk keys of the committed set, by chunk number. */
  readonly committedChunks: Readonly<Record<string, string>>;
  /** Committed files that are gone from the source. */
  readonly gone: number;
}

export class NewSourceFiles {
  private constructor(
    private readonly reads: readonly SourceRead[],
    private readonly relations: ReadonlyMap<string, string>,
    private readonly held: readonly LocalFiles[],
    /** Files that left the set (deleted from the source since they were processed). */
    readonly warnings: readonly string[],
  ) {}

  /**
   * List the model's sources with files, compare them with the processed set of the committed
   * manifest (none on a full build), and fetch the files this run reads.
   */
  static async open(options: {
    readonly node: ModelNode;
    readonly manifest: Manifest;
    readonly projectDir: string;
    readonly readers: readonly FileReader[];
    readonly storage: Storage;
    /** The committed file set; undefined (or a full build) reads everything. */
    readonly committed: FileSetManifest | undefined;
    readonly incremental: boolean;
    readonly signal?: AbortSignal;
  }): Promise<NewSourceFiles> {
    const { node, storage } = options;
    const reads: SourceRead[] = [];
    const relations = new Map<string, string>();
    const held: LocalFiles[] = [];
    const warnings: string[] = [];
    try {
      for (const source of sourcesOf(node, options.manifest)) {
        const location = addressOf(source, options.projectDir);
        const reader = options.readers.find((r) => r.handles(location));
        if (!reader) throw new ExecutionError(`source ${source.source_name}.${source.name}: no reader for ${location}`, { node: node.unique_id });
        const present = await reader.match(location, options.signal);
        const committedChunks = options.incremental ? (options.committed?.processed?.[source.unique_id] ?? {}) : {};
        const committed = await readChunks(storage, committedChunks);
        const read = present.filter((o) => committed.get(o.address) !== o.etag);
        const gone = [...committed.keys()].filter((address) => !present.some((o) => o.address === address));
        for (const address of gone) warnings.push(`${node.name}: ${address} was processed before and is gone from source ${source.source_name}.${source.name}; it leaves the processed set`);
        reads.push({ source, present, read, committed, committedChunks, gone: gone.length });
        if (read.length === 0) {
          relations.set(source.unique_id, emptyRelation(source, node));
        } else {
          const files = await reader.localFiles(read, options.signal);
          held.push(files);
          relations.set(source.unique_id, readFilesSql(location, `[${files.paths.map(quoteLiteral).join(', ')}]`));
        }
      }
    } catch (error) {
      for (const files of held) files.release();
      throw error;
    }
    return new NewSourceFiles(reads, relations, held, warnings);
  }

  /** What `source()` reads in this run; undefined for a source without files. */
  relationOf(source: SourceNode): string | undefined {
    return this.relations.get(source.unique_id);
  }

  /** Whether the set changes (new, rewritten or vanished files): worth a commit even without new rows. */
  get changed(): boolean {
    return this.reads.some((r) => r.read.length > 0 || r.gone > 0);
  }

  /**
   * Write the chunks of the next processed set that differ from the committed ones (under new
   * keys) and return the set's chunk keys, for the manifest of `version`.
   */
  async writeNext(storage: Storage, tableName: string, version: number): Promise<ProcessedSets> {
    const out: Record<string, Record<string, string>> = {};
    for (const r of this.reads) {
      const next = new Map(r.present.map((o) => [o.address, o.etag]));
      const chunks: Record<string, string> = {};
      for (let i = 0; i < CHUNKS; i++) {
        const entries = [...next].filter(([address]) => chunkOf(address) === i).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        const before = [...r.committed].filter(([address]) => chunkOf(address) === i);
        const same = r.committedChunks[i] !== undefined && before.length === entries.length && entries.every(([a, tag]) => r.committed.get(a) === tag);
        if (entries.length === 0) continue;
        if (same) {
          chunks[i] = r.committedChunks[i];
          continue;
        }
        const key = `${processedRootOf(tableName)}/${r.source.unique_id}/${i}-v${version}.json`;
        await storage.writeText(key, `${JSON.stringify(Object.fromEntries(entries))}\n`);
        chunks[i] = key;
      }
      out[r.source.unique_id] = chunks;
    }
    return out;
  }

  release(): void {
    for (const files of this.held) files.release();
  }
}

function chunkOf(address: string): number {
  return createHash('sha1').update(address).digest().readUInt32BE(0) % CHUNKS;
}

async function readChunks(storage: Storage, chunks: Readonly<Record<string, string>>): Promise<Map<string, string>> {
  const set = new Map<string, string>();
  const texts = await Promise.all(
    Object.values(chunks).map(async (key) => {
      const text = await storage.readText(key);
      if (text === undefined) throw new StorageError(`the processed-file set chunk ${storage.uri(key)} is missing`, { hint: '`smelter state reset` the model to rebuild it' });
      return { key, text };
    }),
  );
  for (const { key, text } of texts) {
    let entries: Record<string, string>;
    try {
      entries = JSON.parse(text) as Record<string, string>;
    } catch (error) {
      throw new StorageError(`the processed-file set chunk ${storage.uri(key)} is not valid JSON (${(error as Error).message})`);
    }
    for (const [address, tag] of Object.entries(entries)) set.set(address, tag);
  }
  return set;
}

/** The sources with files that `node` reads, directly or through ephemeral models. */
function sourcesOf(node: ModelNode, manifest: Manifest): SourceNode[] {
  return nodesRead(manifest, node.unique_id)
    .map((dep) => manifest.nodes[dep])
    .filter((n): n is SourceNode => n?.resource_type === 'source' && n.external_location !== undefined);
}

/** A source's location as an absolute path or a URI (relative paths are relative to the project). */
export function addressOf(source: SourceNode, projectDir: string): string {
  const location = source.external_location!;
  return isRemoteAddress(location) || isAbsolute(location) ? location : join(projectDir, location);
}

/**
 * A source with no new files reads as no rows of its declared columns, so the model's query still
 * binds (a day without new trades may still restate old ones).
 */
function emptyRelation(source: SourceNode, node: ModelNode): string {
  const columns = Object.values(source.columns);
  const untyped = columns.filter((c) => !c.data_type).map((c) => c.name);
  if (columns.length === 0 || untyped.length > 0) {
    throw new ExecutionError(
      `source ${source.source_name}.${source.name} has no new files, and ${node.name} (incremental_sources: new) cannot read it as empty without the data_type of ${untyped.length > 0 ? untyped.join(', ') : 'each column'}`,
      { node: node.unique_id, hint: 'declare every column of the source with its data_type in YAML' },
    );
  }
  return `(SELECT ${columns.map((c) => `CAST(NULL AS ${c.data_type}) AS ${quoteIdentifier(c.name)}`).join(', ')} WHERE false)`;
}
