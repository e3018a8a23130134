import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Storage } from './storage.js';

/** Storage in a local folder (the `storage:` of a target on a laptop). */
export class LocalStorage implements Storage {
  constructor(
    private readonly root: string,
    readonly description: string,
  ) {}

  localPath(key: string): string {
    return join(this.root, key);
  }

  async list(prefix: string): Promise<string[]> {
    const base = this.localPath(prefix);
    const out: string[] = [];
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
        else out.push(child);
      }
    };
    await visit('');
    return out.sort();
  }

  async move(from: string, to: string): Promise<void> {
    await mkdir(dirname(this.localPath(to)), { recursive: true });
    await rename(this.localPath(from), this.localPath(to));
  }

  async remove(key: string): Promise<void> {
    await rm(this.localPath(key), { recursive: true, force: true });
  }

  async readText(key: string): Promise<string | undefined> {
    try {
      return await readFile(this.localPath(key), 'utf8');
    } catch {
      return undefined;
    }
  }

  async writeText(key: string, text: string): Promise<void> {
    const path = this.localPath(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, path);
  }

  async exists(key: string): Promise<boolean> {
    try {
      await stat(this.localPath(key));
      return true;
    } catch {
      return false;
    }
  }
}
