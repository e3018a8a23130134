import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { StorageError } from '../../runtime/errors.js';
import { faultCode, isTransientFault, type SdkErrorShape } from '../aws/transient-faults.js';

/** Attempts per request (the first included) when AWS_MAX_ATTEMPTS does not say. */
export const DEFAULT_MAX_ATTEMPTS = 5;
/** First backoff of a retried request; throttling (SlowDown) waits five times as long. */
export const DEFAULT_BACKOFF_BASE_MS = 100;
const THROTTLING_FACTOR = 5;
const MAX_BACKOFF_MS = 20_000;
/** Sockets per client: downloads, uploads and multipart parts all run in parallel. */
const MAX_SOCKETS = 64;

export interface S3ClientOptions {
  /** Attempts per request, the first included (default AWS_MAX_ATTEMPTS, else 5). */
  readonly maxAttempts?: number;
  /** Base of the exponential backoff with full jitter (default 100 ms); tests make it small. */
  readonly backoffBaseMs?: number;
}

/**
 * The S3 client smelter uses, configured from `env`: region AWS_REGION (default us-east-1);
 * endpoint AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, with path-style addressing (what S3-compatible
 * servers expect); static credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY when set, else
 * the SDK's default chain (a Lambda's role).
 *
 * Checksums only where S3 requires them: with the SDK's default (`WHEN_SUPPORTED`) streamed
 * uploads are sent with aws-chunked framing, which S3-compatible servers may store verbatim.
 * Throttling (503 SlowDown), 5xx, timeouts and dropped connections are retried by the SDK with
 * exponential backoff; a response body that breaks after its headers is beyond the SDK's reach and
 * is retried by the callers (`retryBrokenBody`).
 */
export function createS3Client(env: NodeJS.ProcessEnv = process.env, options: S3ClientOptions = {}): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const fromEnv = Number(env.AWS_MAX_ATTEMPTS);
  const maxAttempts = options.maxAttempts ?? (Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_MAX_ATTEMPTS);
  const config: S3ClientConfig = {
    region: env.AWS_REGION || 'us-east-1',
    endpoint,
    forcePathStyle: endpoint !== undefined,
    // A bucket in another region than AWS_REGION (a source bucket) answers 301; follow it.
    followRegionRedirects: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts,
    retryStrategy: new BackoffRetryStrategy(maxAttempts, options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS),
    requestHandler: {
      connectionTimeout: 5_000,
      // Time to the response headers, upload included (at most a 16 MB object or an 8 MB part).
      requestTimeout: 60_000,
      throwOnRequestTimeout: true,
      // A stalled download must not eat a Lambda's deadline: 30 s without a byte fails it.
      socketTimeout: 30_000,
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
    },
  };
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    config.credentials = {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      sessionToken: env.AWS_SESSION_TOKEN || undefined,
    };
  }
  return new S3Client(config);
}

interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

/**
 * The SDK's standard policy (retry throttling and transient errors, exponential backoff with full
 * jitter) with a configurable base: the SDK's own waits a second or more per SlowDown, which a
 * test of a persistent fault cannot afford. No retry quota: a batch run would rather finish late
 * than fail fast.
 */
class BackoffRetryStrategy {
  constructor(
    private readonly maxAttempts: number,
    private readonly baseMs: number,
  ) {}

  async acquireInitialRetryToken(): Promise<RetryToken> {
    return token(0, 0);
  }

  async refreshRetryTokenForRetry(previous: RetryToken, info: { errorType: string }): Promise<RetryToken> {
    const retries = previous.getRetryCount();
    const retryable = info.errorType === 'TRANSIENT' || info.errorType === 'THROTTLING';
    if (!retryable || retries + 1 >= this.maxAttempts) throw new Error('no retry token available');
    return token(retries + 1, backoffMs(retries, this.baseMs * (info.errorType === 'THROTTLING' ? THROTTLING_FACTOR : 1)));
  }

  recordSuccess(): void {}
}

function token(count: number, delay: number): RetryToken {
  return { getRetryCount: () => count, getRetryDelay: () => delay };
}

/** Full jitter: a random wait below base·2^retry, capped. */
export function backoffMs(retry: number, baseMs: number): number {
  return Math.floor(Math.random() * Math.min(MAX_BACKOFF_MS, baseMs * 2 ** retry));
}

/**
 * A response body that failed or ended short after its headers were received (a reset or
 * truncated download). The SDK has already returned by then, so it cannot retry; `retryBrokenBody`
 * does.
 */
export class BrokenBodyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BrokenBody';
  }
}

/** Bodies read per object before giving up (each attempt a fresh request, itself retried by the SDK). */
export const BODY_ATTEMPTS = 3;

/**
 * Run `attempt` (a request and the read of its body) again when its body breaks, up to
 * BODY_ATTEMPTS times with backoff; any other error ends it at once. The last BrokenBodyError
 * carries the number of attempts.
 */
export async function retryBrokenBody<T>(attempt: () => Promise<T>, backoffBase = DEFAULT_BACKOFF_BASE_MS, signal?: AbortSignal): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof BrokenBodyError) || n >= BODY_ATTEMPTS || signal?.aborted) {
        if (error instanceof BrokenBodyError) Object.assign(error, { attempts: n });
        throw error;
      }
      await sleep(backoffMs(n - 1, backoffBase), undefined, signal ? { signal } : undefined);
    }
  }
}

const HINTS: Readonly<Record<string, string>> = {
  AccessDenied: 'check the credentials and the bucket policy',
  InvalidAccessKeyId: 'check the credentials',
  SignatureDoesNotMatch: 'check the credentials',
  NoSuchBucket: 'the bucket does not exist in this account and region (AWS_REGION, AWS_ENDPOINT_URL_S3)',
};

/**
 * `error` (from the SDK, a network or a broken body) as a StorageError whose message says what
 * was being done (`what`: "reading s3://bucket/key"), S3's error code, the HTTP status and how
 * many attempts were made. `transient` is true for what may pass on a later run (throttling, 5xx,
 * timeouts, resets, truncated bodies) and false for what will not (403, 404, bad requests). A
 * StorageError is returned as it is.
 */
export function storageError(error: unknown, what: string): StorageError {
  if (error instanceof StorageError) return error;
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const code = faultCode(error);
  const attempts = e.$metadata?.attempts ?? e.attempts ?? 1;
  const transient = error instanceof BrokenBodyError || isTransientFault(error);
  let message = `${what} failed: ${code}`;
  if (status !== undefined) message += ` (HTTP ${status})`;
  if (attempts > 1) message += ` after ${attempts} attempts`;
  if (e.message && e.message !== code && e.message !== 'UnknownError') message += `: ${e.message}`;
  return new StorageError(message, { transient, hint: HINTS[code], cause: error });
}

/** True for S3's "no such object" answers (GetObject: NoSuchKey; HeadObject, which has no body: NotFound). */
export function isNotFound(error: unknown): boolean {
  const e = error as SdkErrorShape | undefined;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || (e?.$metadata?.httpStatusCode === 404 && e.name !== 'NoSuchBucket');
}
