import { mkdirSync, writeFile } from 'node:fs';
import { dirname } from 'node:path';

/**
 * File writes that overlap with other work: at most `limit` in flight, `add` waits only when the
 * limit is reached, folders are created once. `done` waits for all and reports the first failure.
 */
export class BoundedWrites {
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  private readonly madeDirs = new Set<string>();
  constructor(private readonly limit: number) {}

  async add(path: string, text: string): Promise<void> {
    if (this.inFlight.size >= this.limit) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    const dir = dirname(path);
    if (!this.madeDirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.madeDirs.add(dir);
    }
    const write: Promise<void> = new Promise((settle) =>
      writeFile(path, text, (error) => {
        if (error) this.failure ??= error;
        this.inFlight.delete(write);
        settle();
      }),
    );
    this.inFlight.add(write);
  }

  async done(): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }
}
