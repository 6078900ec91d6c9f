// The agent's one HTTP client, for every outgoing GET: /identity's image_url and the
// sync's photos (through the SSRF guard, api/fetch-image.ts), the central server's
// attendee pages (sync/client.ts) and model packs (models/pull.ts).
//
// node:http rather than global fetch (undici): the SSRF guard needs every hop in its own
// hands (checked before a socket opens, the socket opened to exactly the checked address
// through a pinned `lookup`, no pooled socket that an earlier hop's address opened), and
// fetch follows redirects and pools connections out of sight. One deadline covers
// resolving, connecting, the headers and the body of every hop; the body is capped while
// it streams in. Failures come back as one HttpFailure kind each, with how far the hop
// got, so each caller words them for its own reader.
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorCode, errorText } from '../errors.js';

/** Where one hop's socket goes: the URL's host name (Host header, TLS name) and the checked address. */
export interface PinnedAddress {
  hostname: string;
  address: string;
  port: number;
}

export interface HttpGetOptions {
  headers?: Readonly<Record<string, string>>;
  /** One deadline for the whole request, all hops: resolving, connecting, headers, body. */
  timeoutMs?: number;
  /** Longest silence on the socket (for long downloads, where a whole-request deadline does not fit). */
  idleTimeoutMs?: number;
  /** Refuse a body larger than this, declared (Content-Length) or streamed. */
  maxBytes?: number;
  /** Follow up to this many redirects, each hop pinned and checked like the first; absent: a 3xx is returned as it is. */
  maxRedirects?: number;
  /**
   * Before each hop's socket: resolve and check its host, and give the one address to
   * connect to; nothing resolves the name again. Throw to refuse the hop. Absent: the
   * system resolves (for a destination the operator configured, not one a client named).
   */
  pin?: (url: URL, hop: number) => Promise<PinnedAddress>;
  /** Called with the pinned address right before its socket is opened (tests spy on it); throw to stop. */
  onConnect?: (target: PinnedAddress) => void;
  /** A redirect's next URL from its Location header; throw to refuse it. Default: http and https only. */
  redirect?: (from: URL, location: string) => URL;
  /** Whether the caller wants the body of an answer with this status; others are dropped unread. Default: all. */
  wantBody?: (status: number) => boolean;
  /** Sees the body as it arrives (e.g. to check magic bytes early); throw to stop the download. Not with `sink`. */
  onData?: (received: readonly Buffer[], total: number) => void;
  /** Stream the body into the stream this makes (once the body is wanted) instead of returning it: large downloads. */
  sink?: () => Writable;
  /** Stops the request from outside (a shutdown). */
  signal?: AbortSignal;
}

export interface HttpResponse {
  /** The URL that answered, after any redirects. */
  url: URL;
  status: number;
  headers: IncomingHttpHeaders;
  /** Empty when `sink` took it or `wantBody` declined it. */
  body: Buffer;
}

/** How far a hop got, for the caller's message and log. */
export interface HopProgress {
  url: URL;
  /** 0 for the URL asked, then one per redirect followed. */
  hop: number;
  /** The checked address being connected to; null while it is being resolved, or without `pin`. */
  pinned: PinnedAddress | null;
  /** The TCP connection was established. */
  connected: boolean;
  /** The status line and headers arrived. */
  responded: boolean;
}

export type HttpFailureKind =
  /** `timeoutMs` or `idleTimeoutMs` ran out. */
  | 'timeout'
  /** `signal` stopped it. */
  | 'aborted'
  /** No answer: the name did not resolve, the connection was refused or reset, TLS failed. */
  | 'network'
  /** The answer began, then the connection was cut before the whole body arrived. */
  | 'cut'
  | 'too-large'
  /** More redirects than `maxRedirects`. */
  | 'redirects'
  /** A redirect to a URL the default `redirect` refuses (not http or https, or not a URL). */
  | 'bad-redirect';

/** Every failure the client itself sees; errors thrown by the caller's hooks pass through unchanged. */
export class HttpFailure extends Error {
  override readonly name = 'HttpFailure';
  constructor(
    readonly kind: HttpFailureKind,
    message: string,
    readonly progress: Readonly<HopProgress>,
    /** errno or TLS code where the system gave one (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT), else the system's message. */
    readonly code: string | undefined = undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const EMPTY = Buffer.alloc(0);

export async function httpGet(url: URL, opts: HttpGetOptions = {}): Promise<HttpResponse> {
  const controller = new AbortController();
  let deadlinePassed = false;
  let idlePassed = false;
  const timer =
    opts.timeoutMs === undefined
      ? null
      : setTimeout(() => {
          deadlinePassed = true;
          controller.abort();
        }, opts.timeoutMs);
  const stop = (): void => controller.abort();
  opts.signal?.addEventListener('abort', stop, { once: true });
  const progress: HopProgress = { url, hop: 0, pinned: null, connected: false, responded: false };
  // Errors thrown by the caller's hooks, passed through as they are.
  let hookError: unknown = undefined;
  const hook = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      hookError = err;
      throw err;
    }
  };
  try {
    if (opts.signal?.aborted) throw new HttpFailure('aborted', `the request to ${url.origin} was stopped before it began`, { ...progress });
    for (; ; progress.hop++) {
      progress.pinned = null;
      progress.connected = false;
      progress.responded = false;
      if (opts.pin) {
        const pin = opts.pin;
        progress.pinned = await abortable(
          hook(() => pin(progress.url, progress.hop)).catch((err: unknown) => {
            hookError = err;
            throw err;
          }),
          controller.signal,
        );
        if (opts.onConnect) hook(() => opts.onConnect!(progress.pinned!));
      }
      const res = await request(progress, opts, controller.signal, () => (idlePassed = true));
      progress.responded = true;
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (opts.maxRedirects !== undefined && REDIRECTS.has(status) && location !== undefined) {
        res.destroy();
        if (progress.hop >= opts.maxRedirects) {
          throw new HttpFailure('redirects', `${progress.url.origin} redirected more than ${opts.maxRedirects} times`, { ...progress });
        }
        progress.url = opts.redirect ? hook(() => opts.redirect!(progress.url, location)) : defaultRedirect(progress, location);
        continue;
      }
      if (opts.wantBody && !opts.wantBody(status)) {
        res.destroy();
        return { url: progress.url, status, headers: res.headers, body: EMPTY };
      }
      const body = await readBody(res, progress, opts, (fn) => hook(fn));
      return { url: progress.url, status, headers: res.headers, body };
    }
  } catch (err) {
    if (err instanceof HttpFailure) throw err;
    const at = { ...progress };
    if (deadlinePassed) throw new HttpFailure('timeout', `${at.url.origin}: no answer within ${opts.timeoutMs} ms`, at, undefined, { cause: err });
    if (opts.signal?.aborted) throw new HttpFailure('aborted', `the request to ${at.url.origin} was stopped`, at, undefined, { cause: err });
    if (hookError !== undefined && err === hookError) throw err;
    if (idlePassed) throw new HttpFailure('timeout', `${at.url.origin}: nothing arrived for ${opts.idleTimeoutMs} ms`, at, undefined, { cause: err });
    const code = errorCode(err) ?? errorText(err);
    if (at.responded) throw new HttpFailure('cut', `the connection to ${at.url.origin} was cut while the answer was arriving (${code})`, at, code, { cause: err });
    throw new HttpFailure('network', `cannot reach ${at.url.origin} (${code})`, at, code, { cause: err });
  } finally {
    if (timer !== null) clearTimeout(timer);
    opts.signal?.removeEventListener('abort', stop);
  }
}

function defaultRedirect(progress: HopProgress, location: string): URL {
  let next: URL | null = null;
  try {
    next = new URL(location, progress.url);
  } catch {
    // reported below
  }
  if (next === null || (next.protocol !== 'http:' && next.protocol !== 'https:')) {
    throw new HttpFailure('bad-redirect', `${progress.url.origin} redirected to ${next === null ? 'an invalid address' : `a ${next.protocol} URL`}; only http and https redirects are followed`, { ...progress });
  }
  return next;
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error('aborted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** A `lookup` that answers with the already-checked address whatever it is asked. */
function pinnedLookup(address: string): LookupFunction {
  const family = isIP(address) === 6 ? 6 : 4;
  return (_hostname, options, callback) => {
    // With autoSelectFamily (default on in Node 20) net asks for `all`.
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
}

function bareHost(url: URL): string {
  const h = url.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

function request(progress: HopProgress, opts: HttpGetOptions, signal: AbortSignal, onIdle: () => void): Promise<IncomingMessage> {
  const url = progress.url;
  const pinned = progress.pinned;
  const secure = url.protocol === 'https:';
  const hostname = pinned?.hostname ?? bareHost(url);
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      {
        protocol: url.protocol,
        hostname,
        port: pinned?.port ?? (url.port === '' ? (secure ? 443 : 80) : Number(url.port)),
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { 'user-agent': 'securegate-gate-agent', ...opts.headers },
        signal,
        ...(pinned && {
          // No pooling: a pooled socket could belong to an earlier, different address.
          agent: false,
          lookup: pinnedLookup(pinned.address),
          ...(secure && isIP(hostname) === 0 ? { servername: hostname } : {}),
        }),
      },
      resolve,
    );
    req.on('error', reject);
    req.on('socket', (socket) => {
      if (!socket.connecting) progress.connected = true;
      else socket.once('connect', () => (progress.connected = true));
    });
    if (opts.idleTimeoutMs !== undefined) {
      const ms = opts.idleTimeoutMs;
      req.setTimeout(ms, () => {
        onIdle();
        req.destroy(Object.assign(new Error(`nothing arrived for ${ms} ms`), { code: 'ETIMEDOUT' }));
      });
    }
    req.end();
  });
}

async function readBody(res: IncomingMessage, progress: HopProgress, opts: HttpGetOptions, hook: (fn: () => void) => void): Promise<Buffer> {
  const max = opts.maxBytes;
  const tooLarge = (): HttpFailure => new HttpFailure('too-large', `${progress.url.origin} sent more than ${max} bytes`, { ...progress });
  const declared = Number(res.headers['content-length']);
  if (max !== undefined && Number.isFinite(declared) && declared > max) {
    res.destroy();
    throw tooLarge();
  }
  let total = 0;
  const count = (chunk: Buffer): void => {
    total += chunk.length;
    if (max !== undefined && total > max) throw tooLarge();
  };
  if (opts.sink) {
    await pipeline(
      res,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          count(chunk);
          yield chunk;
        }
      },
      opts.sink(),
    );
    if (!res.complete) throw Object.assign(new Error('connection closed'), { code: 'ECONNRESET' });
    return EMPTY;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) {
    count(chunk);
    chunks.push(chunk);
    if (opts.onData) hook(() => opts.onData!(chunks, total));
  }
  // A cut connection can end the stream without an error.
  if (!res.complete) throw Object.assign(new Error('connection closed'), { code: 'ECONNRESET' });
  return Buffer.concat(chunks);
}
