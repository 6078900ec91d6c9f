// The syntax of api.imageAllowList entries and of the address literals in them: a config
// value format, checked when the config is loaded (the api's address policy matches
// resolved addresses against the parsed entries). Pure functions, no I/O.
import { isIPv4, isIPv6 } from 'node:net';

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

export function stripBrackets(s: string): string {
  return s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
}

function stripZone(s: string): string {
  const i = s.indexOf('%');
  return i < 0 ? s : s.slice(0, i);
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
