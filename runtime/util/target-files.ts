import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The files a command writes under target/ (compiled SQL, what a run executed), synchronously,
 * each folder created once. For thousands of small files a synchronous write costs about a third
 * of the CPU of a promise-based one (open, write and close are each a trip through libuv's pool
 * and back), and on two cores that CPU is taken from DuckDB or from rendering the next model.
 */
export class TargetFiles {
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
