import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What an S3 request does, from its method, path and query: `GET` reads an object, `LIST` lists a
 * bucket, `COPY` is a PUT with `x-amz-copy-source`, `PUT` writes an object or a multipart part,
 * `POST` starts or completes a multipart upload, `DELETE` is DeleteObject or DeleteObjects.
 */
export type S3Operation = 'GET' | 'PUT' | 'LIST' | 'HEAD' | 'DELETE' | 'COPY' | 'POST' | 'OTHER';

const OPERATIONS: readonly S3Operation[] = ['GET', 'PUT', 'LIST', 'HEAD', 'DELETE', 'COPY', 'POST', 'OTHER'];

/** One request as the proxy saw it (path-style addressing: `/bucket/key`). */
export interface ProxyRequest {
  readonly method: string;
  readonly op: S3Operation;
  readonly bucket: string;
  /** The object key, decoded; for LIST the `prefix` parameter; empty for bucket-level requests. */
  readonly key: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** Requests and object bytes by operation. */
export interface ProxyCounts {
  readonly requests: Readonly<Record<S3Operation, number>>;
  /**
   * Object bytes moved: response bodies of successful GETs (as far as they were sent) and request
   * bodies of PUTs (parts included). Error bodies, listings and XML requests are not counted.
   */
  readonly bytes: Readonly<Record<S3Operation, number>>;
}

export type FaultKind = '503' | 'reset' | 'truncate';

export interface FaultSpec {
  readonly match: (request: ProxyRequest) => boolean;
  /** How many matching requests fail; `Infinity` for a persistent fault. */
  readonly times: number;
  readonly kind: FaultKind;
}

/** A registered fault; `hits` says how many requests it has failed so far. */
export interface Fault {
  readonly hits: number;
}

export interface S3Proxy {
  /** `http://127.0.0.1:PORT`: give it to a client as its S3 endpoint. */
  readonly endpoint: string;
  /** Every request since the last reset. */
  snapshot(): ProxyCounts;
  /** The requests whose `bucket/key` starts with `under` (`bucket/prefix`), since the last reset. */
  totals(under: string): ProxyCounts;
  /** Forget the counts (faults stay). */
  reset(): void;
  /** Fail the next `times` requests that `match`, the first registered matching fault first. */
  fail(spec: FaultSpec): Fault;
  /** Forget every fault. */
  clearFaults(): void;
  close(): Promise<void>;
}

interface Record_ {
  readonly op: S3Operation;
  readonly path: string;
  bytes: number;
}

interface FaultState {
  readonly spec: FaultSpec;
  hits: number;
}

/** How long a truncated response stays open after its partial body, before the reset. */
const TRUNCATE_PAUSE_MS = 50;

/** S3's throttling answer, as the SDK parses it (code SlowDown, a throttling error it retries). */
const SLOW_DOWN_XML =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>S3PROXYFAULT</RequestId></Error>';

/**
 * An HTTP proxy on 127.0.0.1 and a free port in front of an S3 endpoint, for tests: it counts
 * requests and object bytes (by operation, and by key prefix) and fails requests on demand — a 503
 * SlowDown answer, a connection reset without an answer, or a body cut off after its headers
 * promised the full Content-Length. Bodies are streamed, never held whole. Request signatures stay
 * valid because the Host header is passed on unchanged (the client signed the proxy's address).
 */
export async function startS3Proxy(upstream: string): Promise<S3Proxy> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  let records: Record_[] = [];
  let faults: FaultState[] = [];

  const server = createServer((req, res) => {
    const request = describe(req);
    const record: Record_ = { op: request.op, path: `${request.bucket}/${request.key}`, bytes: 0 };
    records.push(record);
    const fault = faults.find((f) => f.hits < f.spec.times && f.spec.match(request));
    if (fault) fault.hits += 1;
    if (fault?.spec.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.spec.kind === '503') {
      req.resume();
      req.once('end', () => {
        res.writeHead(503, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(SLOW_DOWN_XML) });
        res.end(request.method === 'HEAD' ? undefined : SLOW_DOWN_XML);
      });
      return;
    }
    forward(req, res, request, record, fault !== undefined);
  });

  function forward(req: IncomingMessage, res: ServerResponse, request: ProxyRequest, record: Record_, truncate: boolean): void {
    const upstreamReq = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (upstreamRes) => {
        const status = upstreamRes.statusCode ?? 502;
        res.writeHead(status, upstreamRes.statusMessage, upstreamRes.rawHeaders);
        const countsBody = request.op === 'GET' && status >= 200 && status < 300;
        const length = Number(upstreamRes.headers['content-length'] ?? NaN);
        // Half the promised body, so the client sees a clean HTTP response that ends early.
        const limit = truncate ? (Number.isFinite(length) ? Math.floor(length / 2) : 0) : Infinity;
        let sent = 0;
        const cut = () => {
          upstreamRes.destroy();
          req.socket.destroy();
        };
        if (limit === 0) {
          res.flushHeaders();
          setTimeout(cut, TRUNCATE_PAUSE_MS);
          return;
        }
        upstreamRes.on('data', (chunk: Buffer) => {
          const part = sent + chunk.length > limit ? chunk.subarray(0, limit - sent) : chunk;
          sent += part.length;
          if (countsBody) record.bytes += part.length;
          if (sent >= limit) {
            upstreamRes.pause();
            // Tear the socket down once the partial body has been handed to it and the client has
            // had time to read it (a destroyed stream drops what its reader has not taken yet).
            res.write(part, () => setTimeout(cut, TRUNCATE_PAUSE_MS));
            return;
          }
          if (!res.write(part)) {
            upstreamRes.pause();
            res.once('drain', () => upstreamRes.resume());
          }
        });
        // A cut response never ends: ending it would tell a keep-alive client to wait for the rest.
        upstreamRes.once('end', () => {
          if (sent < limit) res.end();
        });
        upstreamRes.once('error', () => req.socket.destroy());
      },
    );
    upstreamReq.once('error', () => req.socket.destroy());
    const countsBody = request.op === 'PUT';
    req.on('data', (chunk: Buffer) => {
      if (countsBody) record.bytes += chunk.length;
    });
    req.pipe(upstreamReq);
    res.once('close', () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });

  const count = (selected: readonly Record_[]): ProxyCounts => {
    const requests = Object.fromEntries(OPERATIONS.map((op) => [op, 0])) as Record<S3Operation, number>;
    const bytes = Object.fromEntries(OPERATIONS.map((op) => [op, 0])) as Record<S3Operation, number>;
    for (const r of selected) {
      requests[r.op] += 1;
      bytes[r.op] += r.bytes;
    }
    return { requests, bytes };
  };

  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    snapshot: () => count(records),
    totals: (under) => count(records.filter((r) => r.path.startsWith(under))),
    reset: () => {
      records = [];
    },
    fail: (spec) => {
      const state: FaultState = { spec, hits: 0 };
      faults.push(state);
      return {
        get hits() {
          return state.hits;
        },
      };
    },
    clearFaults: () => {
      faults = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

/** Operation, bucket and key of a path-style request. */
function describe(req: IncomingMessage): ProxyRequest {
  const url = new URL(req.url ?? '/', 'http://proxy');
  const method = req.method ?? 'GET';
  const [, bucketPart = '', ...keyParts] = url.pathname.split('/');
  const bucket = decodeURIComponent(bucketPart);
  const objectKey = decodeURIComponent(keyParts.join('/'));
  const query = url.searchParams;
  let op: S3Operation;
  let key = objectKey;
  if (method === 'GET' && objectKey === '' && bucket !== '' && (query.has('list-type') || query.has('prefix') || [...query.keys()].length === 0)) {
    op = 'LIST';
    key = query.get('prefix') ?? '';
  } else if (method === 'GET') op = 'GET';
  else if (method === 'HEAD') op = 'HEAD';
  else if (method === 'PUT') op = req.headers['x-amz-copy-source'] === undefined ? 'PUT' : 'COPY';
  else if (method === 'DELETE' || (method === 'POST' && query.has('delete'))) op = 'DELETE';
  else if (method === 'POST') op = 'POST';
  else op = 'OTHER';
  return { method, op, bucket, key, url: req.url ?? '/', headers: req.headers };
}
