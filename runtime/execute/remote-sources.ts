import { ExecutionError } from '../errors.js';
import type { Manifest, SourceNode } from '../manifest/types.js';
import { isRemoteAddress } from '../backends.js';
import { nodesRead } from '../graph/reads.js';
import { quoteLiteral } from '../render/relation.js';
import { readFilesSql } from '../render/render-model.js';
import type { FileReader } from '../storage/file-reader.js';
import type { LocalFiles } from '../storage/storage.js';

/**
 * Sources whose files are at a remote address (S3). DuckDB cannot read those here (no httpfs), and
 * rendering is synchronous, so before a node renders, the remote sources it reads (directly or
 * through ephemeral models) are listed and downloaded through the reader's cache once per run;
 * the node then reads them as local files. Sources at local paths are read by DuckDB directly.
 */
export class RemoteSources {
  private readonly pending = new Map<string, Promise<void>>();
  private readonly relations = new Map<string, string>();

  constructor(
    private readonly manifest: Manifest,
    private readonly readers: readonly FileReader[],
    /** Where the downloaded files are held until the run ends. */
    private readonly held: LocalFiles[],
  ) {}

  /**
   * Resolve the remote sources node `id` reads; a no-op for a node that reads none, and for a
   * model with `incremental_sources: new`, which chooses the files it reads itself.
   */
  async prepare(id: string, signal?: AbortSignal): Promise<void> {
    const node = this.manifest.nodes[id];
    if (node?.resource_type === 'model' && node.config.incremental_sources === 'new') return;
    const sources = this.sourcesRead(id);
    await Promise.all(sources.map((source) => this.resolve(source, signal)));
  }

  /** The relation a resolved remote source reads; undefined for any other source. */
  relationOf(node: SourceNode): string | undefined {
    return this.relations.get(node.unique_id);
  }

  private resolve(source: SourceNode, signal?: AbortSignal): Promise<void> {
    let pending = this.pending.get(source.unique_id);
    if (!pending) {
      pending = this.download(source, signal);
      // A failed resolution is not remembered: the next node that reads the source tries again.
      pending.catch(() => this.pending.delete(source.unique_id));
      this.pending.set(source.unique_id, pending);
    }
    return pending;
  }

  private async download(source: SourceNode, signal?: AbortSignal): Promise<void> {
    const location = source.external_location!;
    const reader = this.readers.find((r) => r.handles(location));
    if (!reader) throw new ExecutionError(`source ${source.source_name}.${source.name}: no reader for ${location}`, { node: source.unique_id });
    const objects = await reader.match(location, signal);
    if (objects.length === 0) {
      throw new ExecutionError(`source ${source.source_name}.${source.name}: no files match ${location}`, { node: source.unique_id });
    }
    const files = await reader.localFiles(objects, signal);
    this.held.push(files);
    this.relations.set(source.unique_id, readFilesSql(location, `[${files.paths.map(quoteLiteral).join(', ')}]`));
  }

  private sourcesRead(id: string): SourceNode[] {
    return nodesRead(this.manifest, id)
      .map((dep) => this.manifest.nodes[dep])
      .filter((n): n is SourceNode => n?.resource_type === 'source' && n.external_location !== undefined && isRemoteAddress(n.external_location));
  }
}
