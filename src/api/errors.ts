// Every refusal the API makes is an ApiError: an HTTP status and a `detail`
// that says what is wrong and what the caller can do about it. The body is
// always {"detail": "..."} (the shape FastAPI-style clients of the central
// Securegate API already parse).

export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  /** Extra response headers, e.g. Retry-After on 429. */
  readonly headers: Record<string, string>;
  /**
   * The specifics behind a deliberately generic `detail` (a resolved internal
   * address, an upstream status code): logged, never sent, so a key holder
   * cannot use the answers to map the gate's network.
   */
  readonly logDetail: string | undefined;
  readonly logLevel: 'warn' | 'info';

  /** `cause` is for the log only; it never reaches the client. */
  constructor(status: number, detail: string, headers: Record<string, string> = {}, cause?: unknown, logged?: { detail: string; level: 'warn' | 'info' }) {
    super(detail, cause === undefined ? undefined : { cause });
    this.name = 'ApiError';
    this.status = status;
    this.detail = detail;
    this.headers = headers;
    this.logDetail = logged?.detail;
    this.logLevel = logged?.level ?? 'info';
  }
}

/** A refusal that tells the client what to do and keeps what it found out for the log. */
export function quietError(status: number, detail: string, logDetail: string, level: 'warn' | 'info' = 'info'): ApiError {
  return new ApiError(status, detail, {}, undefined, { detail: logDetail, level });
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}
