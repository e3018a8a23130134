import { closeSync, openSync, readSync } from 'node:fs';

/** Grows to the largest file read; one buffer serves every read (reads are synchronous). */
let buffer = Buffer.allocUnsafe(64 * 1024);

/**
 * A file's contents as UTF-8, like `readFileSync(path, 'utf8')` (the same errors), for the many
 * small files parse reads: it skips readFileSync's fstat and its buffer per file, about a third
 * of the time of reading 10,000 models.
 */
export function readTextFile(path: string): string {
  const fd = openSync(path, 'r');
  try {
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        const larger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(larger, 0, 0, length);
        buffer = larger;
      }
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) return buffer.toString('utf8', 0, length);
      length += read;
    }
  } finally {
    closeSync(fd);
  }
}
