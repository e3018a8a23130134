import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A forwarding HTTP server in front of an S3 endpoint that, once armed with `hold(match)`, holds
 * the first request `match` accepts until `release()` (or 30 s): a test can stop a run at a chosen
 * S3 request (its first upload to staging, its first publishing copy, ...) and act while it waits.
 * Headers pass unchanged, so the client's signature stays valid.
 */
export interface S3Gate {
  readonly endpoint: string;
  /** Hold the next request `match` accepts; resolves once it is held. */
  hold(match: (req: IncomingMessage) => boolean): Promise<void>;
  /** Let the held request (if any) through, and hold nothing more until the next `hold`. */
  release(): void;
  /** How many requests were held since the gate started. */
  readonly held: number;
  close(): Promise<void>;
}

export async function startS3Gate(upstream: string): Promise<S3Gate> {
  const target = new URL(upstream);
  let match: ((req: IncomingMessage) => boolean) | undefined;
  let onHeld: () => void = () => undefined;
  let releaseHeld: () => void = () => undefined;
  let held = 0;
  const server = createServer((req, res) => {
    const forward = () => {
      const upstreamReq = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, upstreamRes.rawHeaders);
        upstreamRes.pipe(res);
      });
      upstreamReq.once('error', () => req.socket.destroy());
      req.pipe(upstreamReq);
    };
    if (match !== undefined && match(req)) {
      match = undefined;
      held++;
      const released = new Promise<void>((resolve) => (releaseHeld = resolve));
      const timeout = setTimeout(releaseHeld, 30_000);
      void released.then(() => {
        clearTimeout(timeout);
        forward();
      });
      onHeld();
      return;
    }
    forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hold: (m) =>
      new Promise<void>((resolve) => {
        match = m;
        onHeld = resolve;
      }),
    release: () => {
      match = undefined;
      releaseHeld();
    },
    get held() {
      return held;
    },
    close: () =>
      new Promise<void>((resolve) => {
        releaseHeld();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The path of an S3 request (path-style: `/bucket/key`), decoded, without its query. */
export function requestKey(req: IncomingMessage): string {
  return decodeURIComponent(new URL(req.url ?? '/', 'http://gate').pathname);
}
