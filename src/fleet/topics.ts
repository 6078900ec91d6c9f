// The site's fleet topics and their payloads (pure: no I/O). Rooted at
// `securegate/<siteId>` (fleet.siteTopic overrides it), beside the gates' own base topics
// `<root>/<gateId>/...`. docs/fleet.md documents the same for people.

/** One grant at one gate, as every gate of the site hears it. Retained, QoS 1. */
export interface SiteEntry {
  /** Payload format version. */
  v: 1;
  siteId: string;
  gateId: string;
  eventId: string;
  userId: string;
  /** Wall-clock time of the grant at its gate (ISO 8601 UTC), and the same in epoch ms. */
  enteredAt: string;
  enteredAtMs: number;
  /** The granting gate's own entry counter: strictly increasing per gate, never reused. */
  seq: number;
  /** The gate could not hear its peers when it granted (fleet.offline applied). */
  offline: boolean;
}

/** `<root>/fleet/heartbeat/<gateId>`: a gate of the site is alive and hearing the broker. QoS 0, not retained. */
export interface Heartbeat {
  v: 1;
  gateId: string;
  /** The highest entry seq this gate has published so far (0: none). */
  lastSeq: number;
  /** Wall-clock time it was sent (ISO 8601 UTC). */
  at: string;
}

export function siteRootOf(siteTopic: string, siteId: string): string {
  return siteTopic !== '' ? siteTopic.replace(/\/+$/, '') : `securegate/${siteId}`;
}

// Ids become topic levels: `/`, `+`, `#` and `%` are percent-encoded so an id is always one level.
const level = (id: string): string => id.replace(/[%/+#]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
const unlevel = (s: string): string => s.replace(/%([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

export const fleetTopics = {
  entry: (root: string, e: Pick<SiteEntry, 'eventId' | 'gateId' | 'userId'>): string => `${root}/fleet/entries/${level(e.eventId)}/${level(e.gateId)}/${level(e.userId)}`,
  entries: (root: string): string => `${root}/fleet/entries/#`,
  heartbeat: (root: string, gateId: string): string => `${root}/fleet/heartbeat/${level(gateId)}`,
  heartbeats: (root: string): string => `${root}/fleet/heartbeat/+`,
  /** The gates' retained status topics (their default base topic `<root>/<gateId>`). */
  statuses: (root: string): string => `${root}/+/status`,
};

/** The gate id in `<root>/<gateId>/status`, or null. */
export function gateOfStatusTopic(root: string, topic: string): string | null {
  const prefix = `${root}/`;
  if (!topic.startsWith(prefix) || !topic.endsWith('/status')) return null;
  const mid = topic.slice(prefix.length, -'/status'.length);
  return mid.length > 0 && !mid.includes('/') && mid !== 'fleet' ? unlevel(mid) : null;
}

export function gateOfHeartbeatTopic(root: string, topic: string): string | null {
  const prefix = `${root}/fleet/heartbeat/`;
  if (!topic.startsWith(prefix)) return null;
  const g = topic.slice(prefix.length);
  return g.length > 0 && !g.includes('/') ? unlevel(g) : null;
}

export function buildEntry(e: Omit<SiteEntry, 'v' | 'enteredAt'>): SiteEntry {
  return { v: 1, siteId: e.siteId, gateId: e.gateId, eventId: e.eventId, userId: e.userId, enteredAt: new Date(e.enteredAtMs).toISOString(), enteredAtMs: e.enteredAtMs, seq: e.seq, offline: e.offline };
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const str = (o: Record<string, unknown>, k: string): string | null => (typeof o[k] === 'string' && (o[k] as string).length > 0 ? (o[k] as string) : null);

function objectOf(payload: Buffer | string): Record<string, unknown> | string {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString());
  } catch {
    return 'not JSON';
  }
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : 'not a JSON object';
}

/**
 * A peer's entry, checked field by field against its topic (a message whose topic and
 * payload disagree is refused: a misconfigured gate must not lock out someone else).
 */
export function parseEntry(root: string, topic: string, payload: Buffer | string): Parsed<SiteEntry> {
  const o = objectOf(payload);
  if (typeof o === 'string') return { ok: false, error: `entry on ${topic}: ${o}` };
  const [siteId, gateId, eventId, userId] = [str(o, 'siteId'), str(o, 'gateId'), str(o, 'eventId'), str(o, 'userId')];
  if (o.v !== 1) return { ok: false, error: `entry on ${topic}: unknown format version ${JSON.stringify(o.v)} (expected 1); update this gate` };
  if (!siteId || !gateId || !eventId || !userId) return { ok: false, error: `entry on ${topic}: siteId, gateId, eventId and userId must be non-empty strings` };
  const ms = o.enteredAtMs;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) return { ok: false, error: `entry on ${topic}: enteredAtMs ${JSON.stringify(ms)}: must be epoch milliseconds` };
  if (typeof o.seq !== 'number' || !Number.isInteger(o.seq) || o.seq < 1) return { ok: false, error: `entry on ${topic}: seq ${JSON.stringify(o.seq)}: must be a whole number of at least 1` };
  const entry = buildEntry({ siteId, gateId, eventId, userId, enteredAtMs: ms, seq: o.seq, offline: o.offline === true });
  if (fleetTopics.entry(root, entry) !== topic) return { ok: false, error: `entry on ${topic}: its payload names ${fleetTopics.entry(root, entry)}; refused` };
  return { ok: true, value: entry };
}

export function parseHeartbeat(payload: Buffer | string): Parsed<Heartbeat> {
  const o = objectOf(payload);
  if (typeof o === 'string') return { ok: false, error: `heartbeat: ${o}` };
  const gateId = str(o, 'gateId');
  if (o.v !== 1 || !gateId || typeof o.lastSeq !== 'number') return { ok: false, error: 'heartbeat: expected {"v":1,"gateId":…,"lastSeq":…}' };
  return { ok: true, value: { v: 1, gateId, lastSeq: o.lastSeq, at: typeof o.at === 'string' ? o.at : '' } };
}
