import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The files `compile` writes, one per model, synchronously, each folder created once. Compile has
 * nothing to overlap a write with but the next render, and creating thousands of files from
 * libuv's four threads at once contends on the folder: on this repository's machine a cold
 * compile of 10,000 models spent about half the kernel time this way, for the same wall time
 * (BENCHMARKS.md). A run keeps the asynchronous writer: there DuckDB's work is what a write
 * overlaps with.
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
