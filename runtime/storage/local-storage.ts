import { mkdir, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sha256Of } from '../util/sha256-file.js';
import type { FileRef, LocalFiles, StagedFile, StagingArea, Storage, StoredFile } from './storage.js';

/**
 * Storage in a local folder (the `storage:` of a target on a laptop). DuckDB reads and writes the
 * folder's files directly: `localFiles` hands out the files themselves, a staging area is the
 * staging folder itself, and publishing is a rename.
 */
export class LocalStorage implements Storage {
  readonly isLocal = true;

  constructor(
    private readonly root: string,
    readonly description: string,
  ) {}

  private path(key: string): string {
    return join(this.root, key);
  }

  uri(key: string): string {
    return this.path(key);
  }

  async list(prefix: string): Promise<StoredFile[]> {
    const base = this.path(prefix);
    const out: StoredFile[] = [];
    const visit = async (rel: string) => {
      let entries;
      try {
        entries = await readdir(join(base, rel), { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const child = rel === '' ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) await visit(child);
        else {
          const found = await this.stored(join(base, child), child);
          if (found) out.push(found);
        }
      }
    };
    await visit('');
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  head(key: string): Promise<StoredFile | undefined> {
    return this.stored(this.path(key), key);
  }

  /** The tag of a local file: its size and modification time (what changes when it is rewritten). */
  private async stored(path: string, key: string): Promise<StoredFile | undefined> {
    try {
      const s = await stat(path);
      return s.isFile() ? { key, bytes: s.size, etag: `${s.size}-${Math.trunc(s.mtimeMs)}` } : undefined;
    } catch {
      return undefined;
    }
  }

  async readText(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.path(key), 'utf8');
    } catch {
      return undefined;
    }
  }

  async writeText(key: string, text: string): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, path);
  }

  async localFiles(files: readonly FileRef[]): Promise<LocalFiles> {
    return { paths: files.map((f) => this.path(f.key)), release: () => {} };
  }

  async openStaging(key: string): Promise<StagingArea> {
    const localDir = this.path(key);
    await mkdir(localDir, { recursive: true });
    return {
      localDir,
      save: async () => {
        const staged: StagedFile[] = [];
        for (const file of await this.list(key)) staged.push({ ...file, sha256: await sha256Of(join(localDir, file.key)) });
        return staged;
      },
      // The folder is the stored staging: the commit protocol removes it once published.
      discard: async () => {},
    };
  }

  async publish(from: string, to: string): Promise<StoredFile> {
    await mkdir(dirname(this.path(to)), { recursive: true });
    await rename(this.path(from), this.path(to));
    const published = await this.head(to);
    if (!published) throw new Error(`${this.path(to)} vanished right after it was published`);
    return published;
  }

  async remove(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      await rm(this.path(key), { recursive: true, force: true });
      await this.removeEmptyParents(key);
    }
  }

  /** Folders of smelter's own area left empty (a run's staging folder) go too; a model's location stays. */
  private async removeEmptyParents(key: string): Promise<void> {
    if (!key.startsWith('.smelter/')) return;
    for (let dir = dirname(key); dir.includes('/'); dir = dirname(dir)) {
      // rmdir, never a recursive rm: it removes the folder only while it is empty, atomically. A
      // check then a recursive rm deleted the staging another model of the same run created in
      // between (its staged, even committed, files with it): found by the kill soak.
      try {
        await rmdir(this.path(dir));
      } catch {
        return;
      }
    }
  }
}
