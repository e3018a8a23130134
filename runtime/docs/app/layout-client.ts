/**
 * Where a layout runs: small graphs on the page (no round trip), large ones in the worker so the
 * page keeps answering while dagre works. A worker that cannot start or fails leaves the page
 * laying out on its own thread, slower but correct.
 */
import { FAST_LAYOUT_ABOVE, layoutGraph, type LayoutInput, type LayoutResult } from './layout.js';

/** layout-worker.ts bundled, put here by scripts/build-docs-app.ts (esbuild `define`). */
declare const LAYOUT_WORKER_SOURCE: string;

export class LayoutClient {
  /** Started at the first large layout; `null` once it could not start or failed. */
  private worker: Worker | null | undefined;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (r: LayoutResult) => void; input: LayoutInput }>();

  layout(input: LayoutInput): Promise<LayoutResult> {
    const worker = input.nodes.length > FAST_LAYOUT_ABOVE ? this.startedWorker() : null;
    if (worker === null) return Promise.resolve(layoutGraph(input));
    const seq = ++this.seq;
    return new Promise((resolve) => {
      this.pending.set(seq, { resolve, input });
      worker.postMessage({ seq, input });
    });
  }

  private startedWorker(): Worker | null {
    if (this.worker !== undefined) return this.worker;
    try {
      const worker = new Worker(URL.createObjectURL(new Blob([LAYOUT_WORKER_SOURCE], { type: 'text/javascript' })));
      worker.addEventListener('message', (e: MessageEvent<{ seq: number; result: LayoutResult }>) => {
        const request = this.pending.get(e.data.seq);
        this.pending.delete(e.data.seq);
        request?.resolve(e.data.result);
      });
      worker.addEventListener('error', () => this.abandonWorker());
      this.worker = worker;
    } catch {
      this.worker = null;
    }
    return this.worker;
  }

  /** Lays out what the worker was asked, here, and stops using it. */
  private abandonWorker(): void {
    this.worker?.terminate();
    this.worker = null;
    for (const { resolve, input } of this.pending.values()) resolve(layoutGraph(input));
    this.pending.clear();
  }
}
