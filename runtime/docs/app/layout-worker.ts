/**
 * The layout worker: dagre on a large graph takes most of a second, which on the page's thread
 * would freeze the filter box and the panels. Bundled on its own and started from a blob URL
 * (a file:// page cannot load a worker script by path).
 */
import { layoutGraph, type LayoutInput } from './layout.js';

interface Request {
  readonly seq: number;
  readonly input: LayoutInput;
}

self.addEventListener('message', (event: MessageEvent<Request>) => {
  const { seq, input } = event.data;
  // The DOM typings see `self` as a Window; in a worker postMessage takes the message alone.
  (self as unknown as { postMessage(message: unknown): void }).postMessage({ seq, result: layoutGraph(input) });
});
