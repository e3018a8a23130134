/**
 * Which AWS SDK errors may pass on a later attempt: throttling, 5xx, timeouts and dropped
 * connections. S3 storage and the DynamoDB state store both mark their errors with it, and the
 * Lambda handler names only those failures `Transient`, the name Step Functions retries.
 */

const THROTTLING_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestThrottled',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'BandwidthLimitExceeded',
  'ProvisionedThroughputExceededException',
]);
const TRANSIENT_CODES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'InternalError', 'InternalServerError', 'ServiceUnavailable']);
export const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_STREAM_PREMATURE_CLOSE']);

export interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  attempts?: number;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/** The error's code as AWS or the network names it: ECONNRESET for a reset (the SDK calls it TimeoutError), else the SDK's name. */
export function faultCode(error: unknown): string {
  const e = shape(error);
  if (NETWORK_CODES.has(e.code ?? '')) return e.code!;
  return (e.name && e.name !== 'Error' ? e.name : undefined) ?? e.code ?? 'Error';
}

/** True for what may pass on a later attempt (throttling, 5xx, 429, timeouts, resets); false for 4xx answers and anything else. */
export function isTransientFault(error: unknown): boolean {
  const e = shape(error);
  const status = e.$metadata?.httpStatusCode;
  const code = faultCode(error);
  return THROTTLING_CODES.has(code) || TRANSIENT_CODES.has(code) || NETWORK_CODES.has(e.code ?? '') || (status !== undefined && (status >= 500 || status === 429));
}

function shape(error: unknown): SdkErrorShape {
  return (typeof error === 'object' && error !== null ? error : { message: String(error) }) as SdkErrorShape;
}
