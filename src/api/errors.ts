// Every refusal the API makes is an ApiError: an HTTP status and a `detail`
// that says what is wrong and what the caller can do about it. The body is
// always {"detail": "..."} (the shape FastAPI-style clients of the central
// Securegate API already parse).

export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  /** Extra response headers, e.g. Retry-After on 429. */
  readonly headers: Record<string, string>;

  /** `cause` is for the log only; it never reaches the client. */
  constructor(status: number, detail: string, headers: Record<string, string> = {}, cause?: unknown) {
    super(detail, cause === undefined ? undefined : { cause });
    this.name = 'ApiError';
    this.status = status;
    this.detail = detail;
    this.headers = headers;
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}
