// Which network addresses an image_url may make the gate connect to. The gate
// sits on a venue LAN next to cameras, controllers and sometimes a cloud VM's
// metadata service, so by default only public unicast addresses are fetched;
// an operator opens specific LAN hosts with the allow-list. Pure functions,
// no I/O: the fetcher classifies the address it resolved and then connects to
// exactly that address.
import { parseAllowList, parseIp, stripBrackets, type AllowEntry } from '../config/allow-list.js';

// The allow-list's syntax is a config value format, checked when the config is loaded.
export { parseAllowList, parseIp, type AllowEntry };

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
