import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isRemoteAddress } from '../backends.js';
import { globToRegExp, hasWildcard } from '../select/glob.js';
import type { FileReader, SourceObject } from './file-reader.js';
import type { LocalFiles } from './storage.js';

/**
 * Source files at local paths (absolute patterns): matched with the same glob rules as DuckDB's
 * (`*` within a folder, `**` across folders), tagged by size and modification time so that a
 * rewritten file reads as new. DuckDB reads the files in place.
 */
export class LocalFileReader implements FileReader {
  handles(address: string): boolean {
    return !isRemoteAddress(address);
  }

  async match(pattern: string): Promise<SourceObject[]> {
    if (!hasWildcard(pattern)) {
      const found = await tagOf(pattern);
      return found ? [found] : [];
    }
    const firstWild = pattern.search(/[*?[]/);
    const root = pattern.slice(0, pattern.lastIndexOf('/', firstWild) + 1) || '/';
    const re = globToRegExp(pattern, { path: true });
    const out: SourceObject[] = [];
    const visit = async (dir: string) => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await visit(path);
        else if (re.test(path)) {
          const found = await tagOf(path);
          if (found) out.push(found);
        }
      }
    };
    await visit(root);
    return out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  async localFiles(objects: readonly SourceObject[]): Promise<LocalFiles> {
    return { paths: objects.map((o) => o.address), release: () => {} };
  }
}

async function tagOf(path: string): Promise<SourceObject | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? { address: path, bytes: s.size, etag: `${s.size}-${Math.trunc(s.mtimeMs)}` } : undefined;
  } catch {
    return undefined;
  }
}
