/**
 * One place that decides what an AWS SDK failure means for dasguard, whatever the service (KMS, RDS, Kinesis,
 * SNS): throttling, 5xx and network failures are TransientError (retry, never skip); access, credential,
 * region and other 4xx problems are ConfigError (every call would fail the same way: stop and tell the user).
 * Service-specific meanings (a KMS ciphertext that can never decrypt, an RDS cluster that does not exist) are
 * decided by the caller before falling back on `classifyAwsError`.
 */
import { ConfigError, TransientError } from '../errors.js';

/** Worth retrying: the service, the network or a rate limit failed. */
const TRANSIENT_AWS_ERRORS: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'LimitExceededException',
  'ProvisionedThroughputExceededException',
  'KMSInternalException',
  'KMSThrottlingException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  'InternalFailure',
  'InternalFailureException',
  'InternalError',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** The user must fix something (permissions, key state, credentials, region). */
const CONFIG_AWS_ERRORS: ReadonlySet<string> = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'AuthorizationError',
  'NotFoundException',
  'DisabledException',
  'KMSInvalidStateException',
  // what Kinesis (and other services) report when their server-side encryption key cannot be used
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSNotFoundException',
  'KMSOptInRequired',
  'InvalidKeyUsageException',
  'InvalidGrantTokenException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'IncompleteSignatureException',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
  'ExpiredToken',
  'InvalidClientTokenId',
  'OptInRequired',
  'CredentialsProviderError',
  'UnknownOperationException',
  'InvalidAction',
]);

/** Node / undici error codes of a request that never got an HTTP answer. */
const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The parts of an SDK error that decide its class. */
export interface AwsErrorInfo {
  /** The service error code (`ThrottlingException`, `DBClusterNotFoundFault`) or the JS error name. */
  name: string;
  message: string;
  /** HTTP status, when the service answered. */
  status: number | undefined;
  /** Node's `code` (ECONNREFUSED...), when the request failed below HTTP. */
  code: string | undefined;
  /** Whether the error came through the SDK's transport (it carries `$metadata`). */
  fromSdk: boolean;
  /** `Name: message`, or the name alone: for error messages. */
  summary: string;
}

export function awsErrorInfo(err: unknown): AwsErrorInfo {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    Code?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const name = typeof e.name === 'string' ? e.name : typeof e.Code === 'string' ? e.Code : 'Error';
  const message = typeof e.message === 'string' ? e.message : String(err);
  const status = e.$metadata?.httpStatusCode;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const summary = `${name}${message && message !== name ? `: ${message}` : ''}`;
  return { name, message, status, code, fromSdk: e.$metadata !== undefined, summary };
}

export interface ClassifyOptions {
  /** Appended to a ConfigError's message: what the user should check (e.g. "the rds:DescribeDBClusters permission"). */
  configHint?: string;
}

/**
 * Maps an AWS SDK error to the dasguard error class deciding what happens next. `what` names the call and
 * its subject for the message, e.g. `RDS DescribeDBClusters for cluster "prod"`. An error that did not come
 * from the SDK's transport (a bug, not an outage) is passed on untouched.
 */
export function classifyAwsError(err: unknown, what: string, options: ClassifyOptions = {}): Error {
  const info = awsErrorInfo(err);
  const hint = options.configHint ?? 'the AWS credentials, region and permissions';
  if (
    CONFIG_AWS_ERRORS.has(info.name) ||
    /Region is missing|Could not load credentials|Unable to load credentials/i.test(info.message)
  ) {
    return new ConfigError(`${what} failed (${info.summary}): fix ${hint}; every call would fail the same way`, {
      cause: err,
    });
  }
  const status = info.status;
  if (
    TRANSIENT_AWS_ERRORS.has(info.name) ||
    (status !== undefined && status >= 500) ||
    status === 429 ||
    (info.code !== undefined && NETWORK_ERROR_CODES.has(info.code)) ||
    info.name === 'AbortError'
  ) {
    return new TransientError(`${what} failed, worth retrying (${info.summary})`, { cause: err });
  }
  if (status === undefined) {
    if (info.fromSdk) {
      // The SDK sent the request but got no HTTP answer (socket, DNS, timeout). Retry.
      return new TransientError(`${what} got no answer, worth retrying (${info.summary})`, { cause: err });
    }
    return err instanceof Error ? err : new Error(info.message, { cause: err });
  }
  // An HTTP 4xx we do not know: stop and tell the user rather than skip data.
  return new ConfigError(`${what} failed (HTTP ${status}, ${info.summary}): fix ${hint}`, { cause: err });
}
