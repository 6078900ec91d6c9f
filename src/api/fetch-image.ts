// Fetch an http(s) image_url without letting the caller aim the gate at its
// own network (SSRF). For every hop, redirects included, the host name is
// resolved once, every resolved address is checked against the address
// policy, and the socket is opened to exactly the checked address through a
// pinned `lookup`, so a DNS answer that changes between check and connect
// (rebinding) cannot slip in. The guard is the `pin` of the agent's one HTTP
// client (src/http/get.ts), which asks it before every hop's socket and follows
// only redirects it has checked.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { ApiError, quietError } from './errors.js';
import { allowListed, classifyAddress, describeClass, NEVER_ALLOWED, type AllowEntry } from './address-policy.js';
import { notAnImageDetail, sniffImage, SNIFF_BYTES } from './image-sniff.js';
import { errorCode, errorText } from '../errors.js';
import { httpGet, HttpFailure, type PinnedAddress } from '../http/get.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Host name to addresses; injected in tests to simulate rebinding names. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** Where a hop's socket goes: the URL's host name and the checked address. */
export type ConnectTarget = PinnedAddress;

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
  /** The hop being checked, for a failure before the client has a connection to report. */
  const at = { url, n: 0 };
  try {
    const res = await httpGet(url, {
      headers: { accept: 'image/jpeg, image/png, image/webp' },
      timeoutMs: opts.timeoutMs,
      maxBytes: opts.maxBytes,
      maxRedirects: opts.maxRedirects,
      pin: (hop, n) => {
        at.url = hop;
        at.n = n;
        return checkedTarget(hop, hopName(n, hop), opts);
      },
      ...(opts.onConnect && { onConnect: opts.onConnect }),
      redirect: nextHop,
      wantBody: (status) => status >= 200 && status <= 299,
      // Check the magic bytes as soon as they are in, so a large non-image is not
      // downloaded to the cap first.
      onData: (chunks, total) => {
        if (total >= SNIFF_BYTES && total - (chunks.at(-1)?.length ?? 0) < SNIFF_BYTES) {
          const head = Buffer.concat(chunks);
          if (!sniffImage(head)) throw new ApiError(415, notAnImageDetail(head, at.url.origin));
        }
      },
    });
    if (res.status < 200 || res.status > 299) {
      throw quietError(
        400,
        'the image server did not return an image (it answered with an error); check that image_url points at an existing image the gate may read',
        `the image server ${res.url.origin} answered HTTP ${res.status}`,
      );
    }
    if (!sniffImage(res.body)) throw new ApiError(415, notAnImageDetail(res.body, res.url.origin));
    return res.body;
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof HttpFailure && err.kind === 'too-large') {
      throw new ApiError(413, `the image at ${err.progress.url.origin} is larger than ${opts.maxBytes} bytes; send a smaller image (a face crop or a downscaled frame)`);
    }
    if (err instanceof HttpFailure && err.kind === 'redirects') {
      throw new ApiError(400, `image_url redirected more than ${opts.maxRedirects} times; give the final image address directly`);
    }
    const what = hopName(at.n, at.url);
    throw quietError(400, unusableHost(what, opts.timeoutMs), whyUnusable(what, err, opts.timeoutMs));
  }
}

/** What the messages call a hop. */
function hopName(n: number, url: URL): string {
  return n === 0 ? `image_url host ${url.host}` : `image_url redirected to ${url.origin}, which`;
}

/** For the log: which of the failures `unusableHost` covers this was. */
function whyUnusable(what: string, err: unknown, timeoutMs: number): string {
  const failure = err instanceof HttpFailure ? err : null;
  const code = failure?.code ?? errorCode(err) ?? errorText(err);
  const timedOut = failure?.kind === 'timeout';
  const t = failure?.progress.pinned ?? null;
  if (!t) return timedOut ? `${what} did not resolve within ${timeoutMs} ms` : `${what} does not resolve (${code})`;
  const at = `${t.address.includes(':') ? `[${t.address}]` : t.address}:${t.port}`;
  if (timedOut) {
    return failure?.progress.connected
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

async function checkedTarget(url: URL, what: string, opts: RemoteFetchOptions): Promise<ConnectTarget> {
  const hostname = bareHost(url);
  const port = portOf(url);
  const family = isIP(hostname);
  let addresses: ResolvedAddress[];
  if (family !== 0) {
    addresses = [{ address: hostname, family: family === 6 ? 6 : 4 }];
  } else {
    addresses = await (opts.resolve ?? systemResolver)(hostname);
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
