// HTTP client for the central attendee API (docs/central-api.md). node:http
// rather than global fetch so one deadline covers connect, headers and body,
// and the body can be capped while it streams in.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
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

  private get(url: URL, etag: string | undefined, signal?: AbortSignal): Promise<{ status: number; body: Buffer; etag: string | undefined }> {
    const { requestTimeoutMs, maxPageBytes } = this.opts;
    const where = `the central server ${url.origin}`;
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (err: SyncError | null, value?: { status: number; body: Buffer; etag: string | undefined }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(value!);
      };
      const timer = setTimeout(
        () => done(new SyncError(`${where} did not send a whole page within ${requestTimeoutMs} ms (sync.requestTimeoutMs); the server is slow or the network is down`, true)),
        requestTimeoutMs,
      );
      const onAbort = (): void => done(new SyncError('sync was stopped before the page arrived', false));
      const headers: Record<string, string> = { 'x-api-key': this.opts.apiKey, accept: 'application/json', 'user-agent': 'securegate-gate-agent' };
      if (etag) headers['if-none-match'] = etag;
      const req = (url.protocol === 'https:' ? https : http).request(url, { method: 'GET', headers }, (res: IncomingMessage) => {
        const declared = Number(res.headers['content-length']);
        const tooLarge = (): SyncError =>
          new SyncError(`${where} sent a page larger than ${maxPageBytes} bytes (sync.maxPageBytes); lower sync.pageSize`, false);
        if (Number.isFinite(declared) && declared > maxPageBytes) return done(tooLarge());
        const chunks: Buffer[] = [];
        let total = 0;
        res.on('data', (c: Buffer) => {
          total += c.length;
          if (total > maxPageBytes) return done(tooLarge());
          chunks.push(c);
        });
        res.on('end', () => {
          const et = res.headers.etag;
          done(null, { status: res.statusCode ?? 0, body: Buffer.concat(chunks), etag: typeof et === 'string' ? et : undefined });
        });
        res.on('error', (err) => done(networkError(err, where, true)));
        // A cut connection ends the response without 'end' (and sometimes without 'error').
        res.on('close', () => {
          if (!res.complete) done(networkError(Object.assign(new Error('connection closed'), { code: 'ECONNRESET' }), where, true));
        });
      });
      req.on('error', (err) => done(networkError(err, where, false)));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      req.end();
    });
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

function networkError(err: Error, where: string, midBody: boolean): SyncError {
  const code = (err as NodeJS.ErrnoException).code ?? err.message;
  return new SyncError(
    midBody ? `the connection to ${where} was cut while the page was arriving (${code}); the page was not applied` : `could not reach ${where} (${code}); check sync.baseUrl and the network`,
    true,
  );
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
