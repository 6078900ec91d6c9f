// Client for the central attendee API (docs/central-api.md), over the agent's one
// HTTP client: one deadline covers connect, headers and body, and the body is
// capped while it streams in.
import { httpGet, HttpFailure } from '../http/get.js';
import { resolveApiKey, SyncConfigError, type SyncConfig } from './config.js';
import { parsePage, SyncError, type AttendeePage, type PageContext } from './page.js';
import { errorText } from '../errors.js';

export interface PageRequest {
  eventId: string;
  /** null: from the beginning (a full snapshot). */
  cursor: string | null;
  limit: number;
  /** The agent's embedder id, sent as `model`. */
  modelId: string;
  signal?: AbortSignal;
}

/** What sync needs from the central server; tests may implement it directly. */
export interface CentralClient {
  /** One page of changes after req.cursor, or null when the server says nothing changed (304). */
  fetchPage(req: PageRequest): Promise<AttendeePage | null>;
  readonly baseUrl: URL;
}

export interface HttpClientOptions {
  baseUrl: string;
  apiKey: string;
  requestTimeoutMs: number;
  maxPageBytes: number;
  embedders?: PageContext['embedders'];
}

export class HttpCentralClient implements CentralClient {
  readonly baseUrl: URL;
  /** ETag of an empty page per exact request URL, kept for this process only: a 304 saves the daemon's idle polls. */
  private readonly etags = new Map<string, string>();

  constructor(private readonly opts: HttpClientOptions) {
    // A trailing slash so `v1/...` is appended to a base path instead of replacing it.
    this.baseUrl = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
  }

  pageUrl(req: PageRequest): URL {
    const url = new URL(`v1/events/${encodeURIComponent(req.eventId)}/attendees`, this.baseUrl);
    if (req.cursor !== null) url.searchParams.set('cursor', req.cursor);
    url.searchParams.set('limit', String(req.limit));
    url.searchParams.set('model', req.modelId);
    return url;
  }

  async fetchPage(req: PageRequest): Promise<AttendeePage | null> {
    const url = this.pageUrl(req);
    const etag = this.etags.get(url.href);
    const res = await this.get(url, etag, req.signal);
    const where = `the central server ${url.origin}`;
    if (res.status === 304) return null;
    if (res.status !== 200) throw statusError(res.status, res.body, where, req.eventId);
    let json: unknown;
    try {
      json = JSON.parse(res.body.toString('utf8'));
    } catch (err) {
      throw new SyncError(`${where} sent a page for event "${req.eventId}" that is not valid JSON (${errorText(err)}); the page was not applied`, false);
    }
    const page = parsePage(json, { eventId: req.eventId, modelId: req.modelId, baseUrl: this.baseUrl, ...(this.opts.embedders && { embedders: this.opts.embedders }) });
    // Only an empty page's ETag is kept: the same URL is asked again either at
    // the head (idle polling, where 304 saves the work) or after a page failed
    // to apply, where a 304 would skip that page for good.
    if (res.etag && page.items.length === 0) this.etags.set(url.href, res.etag);
    else this.etags.delete(url.href);
    return page;
  }

  private async get(url: URL, etag: string | undefined, signal?: AbortSignal): Promise<{ status: number; body: Buffer; etag: string | undefined }> {
    const { requestTimeoutMs, maxPageBytes } = this.opts;
    const where = `the central server ${url.origin}`;
    const headers: Record<string, string> = { 'x-api-key': this.opts.apiKey, accept: 'application/json' };
    if (etag) headers['if-none-match'] = etag;
    try {
      // No redirects followed: the API answers pages itself, and the key must not travel on.
      const res = await httpGet(url, { headers, timeoutMs: requestTimeoutMs, maxBytes: maxPageBytes, ...(signal && { signal }) });
      const et = res.headers.etag;
      return { status: res.status, body: res.body, etag: typeof et === 'string' ? et : undefined };
    } catch (err) {
      if (!(err instanceof HttpFailure)) throw err;
      switch (err.kind) {
        case 'timeout':
          throw new SyncError(`${where} did not send a whole page within ${requestTimeoutMs} ms (sync.requestTimeoutMs); the server is slow or the network is down`, true);
        case 'aborted':
          throw new SyncError('sync was stopped before the page arrived', false);
        case 'too-large':
          throw new SyncError(`${where} sent a page larger than ${maxPageBytes} bytes (sync.maxPageBytes); lower sync.pageSize`, false);
        case 'cut':
          throw new SyncError(`the connection to ${where} was cut while the page was arriving (${err.code}); the page was not applied`, true);
        default:
          throw new SyncError(`could not reach ${where} (${err.code ?? err.kind}); check sync.baseUrl and the network`, true);
      }
    }
  }
}

/** The client the config describes; the key from GATE_AGENT_SYNC_API_KEY, apiKeyFile or apiKey. */
export function createCentralClient(c: SyncConfig, env: NodeJS.ProcessEnv = process.env): HttpCentralClient {
  if (!c.baseUrl) throw new SyncConfigError('no central server address; set sync.baseUrl in the config or pass --url');
  let url: URL;
  try {
    url = new URL(c.baseUrl);
  } catch {
    throw new SyncConfigError(`sync.baseUrl ${JSON.stringify(c.baseUrl)} is not a URL; use e.g. https://api.securegate.ai`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SyncConfigError(`sync.baseUrl must be http or https, not ${url.protocol}`);
  return new HttpCentralClient({ baseUrl: c.baseUrl, apiKey: resolveApiKey(c, env), requestTimeoutMs: c.requestTimeoutMs, maxPageBytes: c.maxPageBytes });
}

function serverDetail(body: Buffer): string {
  try {
    const j = JSON.parse(body.toString('utf8')) as { detail?: unknown };
    if (typeof j.detail === 'string') return `: ${j.detail.slice(0, 300)}`;
  } catch {
    // not JSON: the status alone says enough
  }
  return '';
}

function statusError(status: number, body: Buffer, where: string, eventId: string): SyncError {
  const detail = serverDetail(body);
  if (status === 401 || status === 403) {
    return new SyncError(`${where} refused the API key (HTTP ${status}${detail}); check GATE_AGENT_SYNC_API_KEY / sync.apiKeyFile`, false, status);
  }
  if (status === 404) return new SyncError(`${where} does not know event "${eventId}" (HTTP 404${detail}); check the event id`, false, status);
  if (status === 410) return new SyncError(`${where} no longer knows the stored cursor of event "${eventId}" (HTTP 410${detail}); syncing the event again from the start`, false, status);
  if (status === 429 || status >= 500) return new SyncError(`${where} answered HTTP ${status}${detail}; the server or a proxy in front of it has a problem`, true, status);
  return new SyncError(`${where} refused the request (HTTP ${status}${detail})`, false, status);
}
