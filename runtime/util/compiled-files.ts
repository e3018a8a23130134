import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The files `compile` writes, one per model, synchronously. Between renders there is nothing to
 * overlap a write with, and for thousands of small files a synchronous write costs about a third
 * of the CPU time of a promise-based one (open, write and close each a trip through libuv's pool).
 * Each folder is created once.
 */
export class CompiledFiles {
  private readonly madeDirs = new Set<string>();

  write(path: string, text: string): void {
    const dir = dirname(path);
    if (!this.madeDirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.madeDirs.add(dir);
    }
    writeFileSync(path, text);
  }
}
