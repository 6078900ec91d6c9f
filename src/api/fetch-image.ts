// Fetch an http(s) image_url without letting the caller aim the gate at its
// own network (SSRF). For every hop, redirects included, the host name is
// resolved once, every resolved address is checked against the address
// policy, and the socket is opened to exactly the checked address through a
// pinned `lookup`, so a DNS answer that changes between check and connect
// (rebinding) cannot slip in. node:http rather than global fetch because
// undici's redirect and connection pooling would hide both hops and sockets.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { ApiError, quietError } from './errors.js';
import { allowListed, classifyAddress, describeClass, NEVER_ALLOWED, type AllowEntry } from './address-policy.js';
import { notAnImageDetail, sniffImage, SNIFF_BYTES } from './image-sniff.js';
import { errorText, errorCode } from '../errors.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Host name to addresses; injected in tests to simulate rebinding names. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface ConnectTarget {
  hostname: string;
  address: string;
  port: number;
}

export interface RemoteFetchOptions {
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  allowList: readonly AllowEntry[];
  resolve?: Resolver;
  /** Called just before a socket is opened; tests use it to prove none was for refused hosts. */
  onConnect?: (target: ConnectTarget) => void;
}

export const systemResolver: Resolver = async (hostname) => {
  const all = await dnsLookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * The one answer for every way a host can fail to give the gate a connection: refused by
 * the address policy, a name that does not resolve, a refused port, a filtered one, a
 * TLS failure, silence. Told apart, they would let a key holder map the venue's DNS
 * (which internal names exist) and scan an allow-listed device's ports; the log says which.
 */
function unusableHost(what: string, timeoutMs: number): string {
  return `${what} is not a host the gate could fetch from (not a public host or an allow-listed device, a name that does not resolve, or no image within ${timeoutMs} ms); check the host in image_url, serve the image from a public host, or ask the gate operator to allow-list the device and check that it is up`;
}

export async function fetchRemoteImage(url: URL, opts: RemoteFetchOptions): Promise<Buffer> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
  let current = url;
  /** What the messages call the current hop. */
  const hopName = (n: number): string => (n === 0 ? `image_url host ${current.host}` : `image_url redirected to ${current.origin}, which`);
  /** How far the current hop got, for the log. */
  const hop: HopProgress = { n: 0, target: null, connected: false };
  try {
    for (; ; hop.n++) {
      const n = hop.n;
      hop.target = null;
      const what = hopName(n);
      hop.connected = false;
      hop.target = await checkedTarget(current, what, opts, controller.signal);
      opts.onConnect?.(hop.target);
      const res = await get(current, hop, controller.signal);
      const location = res.headers.location;
      if (REDIRECTS.has(res.statusCode ?? 0) && location !== undefined) {
        res.destroy();
        if (n >= opts.maxRedirects) {
          throw new ApiError(400, `image_url redirected more than ${opts.maxRedirects} times; give the final image address directly`);
        }
        current = nextHop(current, location);
        continue;
      }
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        res.destroy();
        throw quietError(
          400,
          'the image server did not return an image (it answered with an error); check that image_url points at an existing image the gate may read',
          `the image server ${current.origin} answered HTTP ${status}`,
        );
      }
      return await readCapped(res, opts.maxBytes, current.origin);
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    const what = hopName(hop.n);
    throw quietError(400, unusableHost(what, opts.timeoutMs), whyUnusable(what, hop, err, controller.signal.aborted, opts.timeoutMs));
  } finally {
    clearTimeout(timer);
  }
}

interface HopProgress {
  /** 0 for image_url itself, then one per redirect followed. */
  n: number;
  /** The checked address being connected to; null while the name is being resolved. */
  target: ConnectTarget | null;
  /** The TCP connection was established. */
  connected: boolean;
}

/** For the log: which of the failures `unusableHost` covers this was. */
function whyUnusable(what: string, hop: HopProgress, err: unknown, timedOut: boolean, timeoutMs: number): string {
  const code = errorCode(err) ?? errorText(err);
  const t = hop.target;
  if (!t) return timedOut ? `${what} did not resolve within ${timeoutMs} ms` : `${what} does not resolve (${code})`;
  const at = `${t.address.includes(':') ? `[${t.address}]` : t.address}:${t.port}`;
  if (timedOut) {
    return hop.connected
      ? `${what}: connected to ${at}, but the image did not arrive within ${timeoutMs} ms`
      : `${what}: no connection to ${at} within ${timeoutMs} ms (nothing answered: a filtered port, or the host is down)`;
  }
  if (code === 'ECONNREFUSED') return `${what}: ${at} refused the connection (ECONNREFUSED: nothing listens on that port)`;
  return `${what}: the image at ${at} could not be fetched (${code})`;
}

function nextHop(from: URL, location: string): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new ApiError(400, `the image server ${from.origin} redirected to an invalid address; give the final image address directly`);
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new ApiError(400, `the image server ${from.origin} redirected to a ${next.protocol} URL; only http and https redirects are followed`);
  }
  // Every hop is held to the rules of the first: image_url itself may not carry credentials.
  if (next.username !== '' || next.password !== '') {
    throw new ApiError(400, `the image server ${from.origin} redirected to a URL with credentials (user:password@); serve the image without authentication`);
  }
  return next;
}

function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

function bareHost(url: URL): string {
  const h = url.hostname;
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

async function checkedTarget(url: URL, what: string, opts: RemoteFetchOptions, signal: AbortSignal): Promise<ConnectTarget> {
  const hostname = bareHost(url);
  const port = portOf(url);
  const family = isIP(hostname);
  let addresses: ResolvedAddress[];
  if (family !== 0) {
    addresses = [{ address: hostname, family: family === 6 ? 6 : 4 }];
  } else {
    addresses = await abortable((opts.resolve ?? systemResolver)(hostname), signal);
  }
  if (addresses.length === 0) throw Object.assign(new Error('no addresses'), { code: 'ENODATA' });
  // Every address must pass, not just the first: which one the OS would pick
  // is not ours to guess, and we connect to the first below.
  // The client hears only that the host is refused: where a name resolves to
  // and what kind of address that is stay in the log (warn: someone probed).
  const refused = unusableHost(what, opts.timeoutMs);
  for (const { address } of addresses) {
    const cls = classifyAddress(address) ?? 'reserved';
    if (cls === 'public') continue;
    if (NEVER_ALLOWED.has(cls)) {
      throw quietError(400, refused, `${what} resolves to ${address}, ${describeClass(cls)}, which the gate never fetches from (not even with the allow-list)`, 'warn');
    }
    if (!allowListed(opts.allowList, hostname, address, port)) {
      throw quietError(400, refused, `${what} resolves to ${address}:${port}, ${describeClass(cls)}, which the gate does not fetch from (not on the API image allow-list)`, 'warn');
    }
  }
  const first = addresses[0] as ResolvedAddress;
  return { hostname, address: first.address, port };
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** A `lookup` that answers with the already-checked address whatever it is asked. */
function pinnedLookup(address: string, family: 4 | 6): LookupFunction {
  return (_hostname, options, callback) => {
    // With autoSelectFamily (default on in Node 20) net asks for `all`.
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
}

function get(url: URL, hop: HopProgress, signal: AbortSignal): Promise<IncomingMessage> {
  const target = hop.target!;
  const family = isIP(target.address) === 6 ? 6 : 4;
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      {
        protocol: url.protocol,
        hostname: target.hostname,
        port: target.port,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { accept: 'image/jpeg, image/png, image/webp', 'user-agent': 'securegate-gate-agent' },
        // No pooling: a pooled socket could belong to an earlier, different address.
        agent: false,
        signal,
        lookup: pinnedLookup(target.address, family),
        ...(secure && isIP(target.hostname) === 0 ? { servername: target.hostname } : {}),
      },
      resolve,
    );
    req.on('error', reject);
    req.on('socket', (socket) => {
      if (!socket.connecting) hop.connected = true;
      else socket.once('connect', () => (hop.connected = true));
    });
    req.end();
  });
}

function readCapped(res: IncomingMessage, maxBytes: number, where: string): Promise<Buffer> {
  const tooLarge = (): ApiError =>
    new ApiError(413, `the image at ${where} is larger than ${maxBytes} bytes; send a smaller image (a face crop or a downscaled frame)`);
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    res.destroy();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let sniffed = false;
    const fail = (err: Error): void => {
      res.destroy();
      reject(err);
    };
    res.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) return fail(tooLarge());
      chunks.push(chunk);
      // Check the magic bytes as soon as they are in, so a large non-image is
      // not downloaded to the cap first.
      if (!sniffed && total >= SNIFF_BYTES) {
        sniffed = true;
        const head = Buffer.concat(chunks);
        if (!sniffImage(head)) fail(new ApiError(415, notAnImageDetail(head, where)));
      }
    });
    res.on('end', () => {
      const body = Buffer.concat(chunks);
      if (!sniffImage(body)) reject(new ApiError(415, notAnImageDetail(body, where)));
      else resolve(body);
    });
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(new Error('ECONNRESET'));
    });
  });
}
