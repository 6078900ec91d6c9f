// Which network addresses an image_url may make the gate connect to. The gate
// sits on a venue LAN next to cameras, controllers and sometimes a cloud VM's
// metadata service, so by default only public unicast addresses are fetched;
// an operator opens specific LAN hosts with the allow-list. Pure functions,
// no I/O: the fetcher classifies the address it resolved and then connects to
// exactly that address.
import { isIPv4, isIPv6 } from 'node:net';

export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'cgnat'
  | 'link-local'
  | 'metadata'
  | 'unspecified'
  | 'multicast'
  | 'broadcast'
  | 'reserved';

/**
 * Classes the allow-list can never open: connecting to 0.0.0.0 reaches the
 * gate itself, multicast/broadcast are not servers, and cloud metadata
 * endpoints hand out credentials.
 */
export const NEVER_ALLOWED: ReadonlySet<AddressClass> = new Set(['unspecified', 'multicast', 'broadcast', 'metadata']);

/** 4 bytes for IPv4, 16 for IPv6; null when `ip` is not an address literal. */
export function parseIp(ip: string): Uint8Array | null {
  const bare = stripZone(stripBrackets(ip));
  if (isIPv4(bare)) return Uint8Array.from(bare.split('.').map(Number));
  if (!isIPv6(bare)) return null;
  let text = bare;
  const tail: number[] = [];
  // A trailing dotted quad (::ffff:1.2.3.4) becomes the last two groups.
  const lastColon = text.lastIndexOf(':');
  const maybeV4 = text.slice(lastColon + 1);
  if (isIPv4(maybeV4)) {
    tail.push(...maybeV4.split('.').map(Number));
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const fill = rest === undefined ? 0 : 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array<string>(fill).fill('0'), ...restGroups];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

function stripBrackets(s: string): string {
  return s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
}

function stripZone(s: string): string {
  const i = s.indexOf('%');
  return i < 0 ? s : s.slice(0, i);
}

function prefixMatch(addr: Uint8Array, net: readonly number[], bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if (((addr[byte] ?? 0) & mask) !== ((net[byte] ?? 0) & mask)) return false;
  }
  return true;
}

type Range = [readonly number[], number, AddressClass];

// Order matters: the first match wins, so the metadata hosts come before the
// link-local / ULA ranges that contain them.
const V4_RANGES: Range[] = [
  [[169, 254, 169, 254], 32, 'metadata'],
  [[255, 255, 255, 255], 32, 'broadcast'],
  [[0, 0, 0, 0], 8, 'unspecified'],
  [[10, 0, 0, 0], 8, 'private'],
  [[100, 64, 0, 0], 10, 'cgnat'],
  [[127, 0, 0, 0], 8, 'loopback'],
  [[169, 254, 0, 0], 16, 'link-local'],
  [[172, 16, 0, 0], 12, 'private'],
  [[192, 0, 0, 0], 24, 'reserved'],
  [[192, 0, 2, 0], 24, 'reserved'],
  [[192, 168, 0, 0], 16, 'private'],
  [[198, 18, 0, 0], 15, 'reserved'],
  [[198, 51, 100, 0], 24, 'reserved'],
  [[203, 0, 113, 0], 24, 'reserved'],
  [[224, 0, 0, 0], 4, 'multicast'],
  [[240, 0, 0, 0], 4, 'reserved'],
];

const V6_RANGES: Range[] = [
  [[0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54], 128, 'metadata'],
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 128, 'unspecified'],
  [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 128, 'loopback'],
  [[0xfc], 7, 'private'],
  [[0xfe, 0x80], 10, 'link-local'],
  [[0xfe, 0xc0], 10, 'private'],
  [[0xff], 8, 'multicast'],
  [[0x01, 0x00, 0, 0, 0, 0, 0, 0], 64, 'reserved'],
  [[0x20, 0x01, 0x0d, 0xb8], 32, 'reserved'],
  // Local-use NAT64 (RFC 8215): a site's own translator reaches its own IPv4 network.
  [[0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], 48, 'private'],
  // Teredo: a tunnel whose IPv4 endpoints are obfuscated in the address; never a camera host.
  [[0x20, 0x01, 0x00, 0x00], 32, 'reserved'],
];

/**
 * The IPv4 address an IPv6 address stands for, where it embeds one that a
 * stack or translator would actually reach: IPv4-mapped (::ffff:a.b.c.d),
 * IPv4-translated (::ffff:0:a.b.c.d, RFC 2765), IPv4-compatible (::a.b.c.d),
 * NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:ab:cd::).
 */
function embeddedV4(a: Uint8Array): Uint8Array | null {
  const zeros = (from: number, to: number): boolean => a.slice(from, to).every((b) => b === 0);
  if (zeros(0, 10) && a[10] === 0xff && a[11] === 0xff) return a.slice(12);
  if (zeros(0, 8) && a[8] === 0xff && a[9] === 0xff && zeros(10, 12)) return a.slice(12);
  if (zeros(0, 12) && !zeros(12, 16)) return a.slice(12);
  if (a[0] === 0x00 && a[1] === 0x64 && a[2] === 0xff && a[3] === 0x9b && zeros(4, 12)) return a.slice(12);
  if (a[0] === 0x20 && a[1] === 0x02) return a.slice(2, 6);
  return null;
}

/** The class of an address literal, or null when `ip` is not one. */
/** "a private", "an unspecified": for details read by people. */
export function describeClass(cls: AddressClass): string {
  return `${/^[aeiou]/.test(cls) ? 'an' : 'a'} ${cls} address`;
}

export function classifyAddress(ip: string): AddressClass | null {
  const bytes = parseIp(ip);
  if (!bytes) return null;
  return classifyBytes(bytes);
}

function classifyBytes(bytes: Uint8Array): AddressClass {
  if (bytes.length === 16) {
    // :: and ::1 look like IPv4-compatible 0.0.0.0 / 0.0.0.1; they are not.
    if (bytes.slice(0, 15).every((b) => b === 0) && (bytes[15] ?? 0) <= 1) return bytes[15] === 1 ? 'loopback' : 'unspecified';
    const v4 = embeddedV4(bytes);
    if (v4) return classifyBytes(v4);
  }
  const ranges = bytes.length === 4 ? V4_RANGES : V6_RANGES;
  for (const [net, bits, cls] of ranges) if (prefixMatch(bytes, net, bits)) return cls;
  return 'public';
}

/** One parsed allow-list entry: a host name, an address or a CIDR block, optionally with a port. */
export interface AllowEntry {
  source: string;
  host?: string;
  net?: { bytes: Uint8Array; bits: number };
  port?: number;
}

/**
 * Parse allow-list entries: `camera.lan`, `camera.lan:8080`, `10.1.2.3`,
 * `10.1.2.0/24`, `10.1.2.3:8080`, `[fd00::5]:8080`, `fd00::/8`. Returns every
 * bad entry at once so config validation can report them together.
 */
export function parseAllowList(entries: readonly string[]): { entries: AllowEntry[]; errors: string[] } {
  const out: AllowEntry[] = [];
  const errors: string[] = [];
  for (const source of entries) {
    const e = parseAllowEntry(source.trim());
    if (typeof e === 'string') errors.push(`${JSON.stringify(source)}: ${e}`);
    else out.push(e);
  }
  return { entries: out, errors };
}

function parseAllowEntry(s: string): AllowEntry | string {
  const hint = 'use host, host:port, an IP address, [IPv6]:port or a CIDR block like 10.1.2.0/24 (optionally :port)';
  if (s === '') return `empty entry; ${hint}`;
  let hostPart = s;
  let port: number | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const hostPort = /^([^:]+):(\d+)$/.exec(s);
  if (bracket) {
    hostPart = bracket[1] ?? '';
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (hostPort) {
    hostPart = hostPort[1] ?? '';
    port = Number(hostPort[2]);
  }
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) return `port out of range; ${hint}`;
  const cidr = /^(.+)\/(\d{1,3})$/.exec(hostPart);
  if (cidr) {
    const bytes = parseIp(cidr[1] ?? '');
    const bits = Number(cidr[2]);
    if (!bytes || bits > bytes.length * 8) return `not a valid CIDR block; ${hint}`;
    return { source: s, net: { bytes, bits }, ...(port !== undefined && { port }) };
  }
  const bytes = parseIp(hostPart);
  if (bytes) return { source: s, net: { bytes, bits: bytes.length * 8 }, ...(port !== undefined && { port }) };
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(hostPart)) return `not a host name or address; ${hint}`;
  return { source: s, host: hostPart.toLowerCase(), ...(port !== undefined && { port }) };
}

/**
 * Whether a connection to `address`:`port`, reached through URL host
 * `hostname`, is opened by the allow-list. A name entry trusts whatever that
 * name resolves to; address and CIDR entries are matched on the resolved address.
 */
export function allowListed(entries: readonly AllowEntry[], hostname: string, address: string, port: number): boolean {
  const bytes = parseIp(address);
  const v4 = bytes && bytes.length === 16 ? embeddedV4(bytes) : null;
  const host = stripBrackets(hostname).toLowerCase();
  return entries.some((e) => {
    if (e.port !== undefined && e.port !== port) return false;
    if (e.host !== undefined) return e.host === host;
    if (!e.net || !bytes) return false;
    const candidate = e.net.bytes.length === bytes.length ? bytes : v4;
    return candidate !== null && candidate.length === e.net.bytes.length && prefixMatch(candidate, Array.from(e.net.bytes), e.net.bits);
  });
}
