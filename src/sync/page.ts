// One page of the central attendee API (docs/central-api.md), checked item by
// item before any of it reaches the store. Pure: no I/O, so every rule is tested
// directly. A page with one bad item is refused whole, because applying the
// rest and moving the cursor past it would lose that attendee for good.
import { loadManifest } from '../models/manifest.js';
import { sessionProblems, type AttendeeSession } from '../store/session.js';

export interface SyncEventInfo {
  id: string;
  name: string;
  startsAt: number | null;
  endsAt: number | null;
}

export interface SyncEmbedding {
  modelId: string;
  vector: Float32Array;
  quality: number | null;
}

export type SyncItem =
  | { userId: string; deleted: true }
  | { userId: string; deleted: false; session: AttendeeSession; embeddings: SyncEmbedding[]; photoUrl: URL | null };

export interface AttendeePage {
  event: SyncEventInfo;
  items: SyncItem[];
  nextCursor: string;
  hasMore: boolean;
  /** The server's estimate of items still to come after this page, when it sends one. */
  remaining: number | null;
}

/** Why a sync step failed; `retryable` says whether trying the same request again may help. */
export class SyncError extends Error {
  override name = 'SyncError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface PageContext {
  eventId: string;
  /** The agent's embedder: its embeddings are what makes an attendee matchable. */
  modelId: string;
  /** Where relative photo URLs are resolved. */
  baseUrl: URL;
  /** Embedder ids the agent accepts, with their vector length (default: the manifest's embedders). */
  embedders?: ReadonlyMap<string, number>;
}

/** Embedder model ids from models/manifest.json with their embedding length. */
export function manifestEmbedders(): Map<string, number> {
  return new Map(loadManifest().models.filter((m) => m.role === 'embedder').map((m) => [m.id, m.embeddingSize ?? 512]));
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Float32 little-endian from base64, checked and L2-normalised like the local embedder's output. */
export function decodeVector(b64: unknown, dim: number): Float32Array | string {
  if (typeof b64 !== 'string' || b64.length % 4 !== 0 || !B64.test(b64)) return 'vector must be a base64 string';
  const buf = Buffer.from(b64, 'base64');
  if (buf.length !== dim * 4) return `vector has ${buf.length / 4} values, the model makes ${dim} (${dim * 4} bytes of float32 LE)`;
  const v = new Float32Array(dim);
  let sq = 0;
  for (let i = 0; i < dim; i++) {
    const x = buf.readFloatLE(i * 4);
    if (!Number.isFinite(x)) return `vector value ${i} is not a finite number`;
    v[i] = x;
    sq += x * x;
  }
  if (sq === 0) return 'vector is all zeros';
  const n = Math.sqrt(sq);
  for (let i = 0; i < dim; i++) v[i] = v[i]! / n;
  return v;
}

/** The base64 float32 LE form the API carries (tests and tools build pages with it). */
export function encodeVector(v: Float32Array): string {
  const buf = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

function parseTime(v: unknown, field: string): number | null | string {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) return `event.${field} must be an ISO 8601 time or null`;
  return Date.parse(v);
}

function parseEvent(v: unknown, eventId: string): SyncEventInfo | string {
  if (!isObj(v)) return 'event must be an object';
  if (v.id !== eventId) return `event.id is ${JSON.stringify(v.id)}, but event "${eventId}" was asked for`;
  if (typeof v.name !== 'string') return 'event.name must be a string';
  const startsAt = parseTime(v.startsAt, 'startsAt');
  const endsAt = parseTime(v.endsAt, 'endsAt');
  if (typeof startsAt === 'string') return startsAt;
  if (typeof endsAt === 'string') return endsAt;
  return { id: eventId, name: v.name, startsAt, endsAt };
}

function parseItem(v: unknown, ctx: PageContext, embedders: ReadonlyMap<string, number>): SyncItem | string {
  if (!isObj(v)) return 'must be an object';
  const userId = v.userId;
  if (typeof userId !== 'string' || userId === '') return 'userId must be a non-empty string';
  if (v.deleted !== undefined && v.deleted !== true) return 'deleted must be true or absent';
  if (v.deleted === true) return { userId, deleted: true };
  const problems = sessionProblems(v.session);
  if (problems.length) return `session: ${problems.join('; ')}`;
  const session = v.session as AttendeeSession;
  if (session.userInfo.userId !== userId) return `session.userInfo.userId is "${session.userInfo.userId}", not the item's userId`;
  const embeddings: SyncEmbedding[] = [];
  if (v.embeddings !== undefined) {
    if (!Array.isArray(v.embeddings)) return 'embeddings must be an array';
    for (const [i, e] of v.embeddings.entries()) {
      if (!isObj(e) || typeof e.modelId !== 'string') return `embeddings[${i}].modelId must be a string`;
      const dim = e.modelId === ctx.modelId ? (embedders.get(ctx.modelId) ?? 512) : embedders.get(e.modelId);
      if (dim === undefined) {
        return `embeddings[${i}] has unknown model id "${e.modelId}"; this gate embeds with "${ctx.modelId}" and knows ${[...embedders.keys()].join(', ')}; the server must send embeddings of a known model (it was asked for model=${ctx.modelId}) or a photoUrl`;
      }
      const vector = decodeVector(e.vector, dim);
      if (typeof vector === 'string') return `embeddings[${i}] (${e.modelId}): ${vector}`;
      if (e.quality !== undefined && e.quality !== null && typeof e.quality !== 'number') return `embeddings[${i}].quality must be a number`;
      embeddings.push({ modelId: e.modelId, vector, quality: typeof e.quality === 'number' ? e.quality : null });
    }
  }
  let photoUrl: URL | null = null;
  if (v.photoUrl !== undefined && v.photoUrl !== null) {
    if (typeof v.photoUrl !== 'string') return 'photoUrl must be a string';
    try {
      photoUrl = new URL(v.photoUrl, ctx.baseUrl);
    } catch {
      return 'photoUrl is not a valid URL';
    }
    if (photoUrl.protocol !== 'http:' && photoUrl.protocol !== 'https:') return `photoUrl must be http or https, not ${photoUrl.protocol}`;
  }
  return { userId, deleted: false, session, embeddings, photoUrl };
}

/** Check a decoded response body; throws a SyncError naming the first bad field. */
export function parsePage(body: unknown, ctx: PageContext): AttendeePage {
  const embedders = ctx.embedders ?? manifestEmbedders();
  const bad = (what: string): SyncError => new SyncError(`central server sent an invalid page for event "${ctx.eventId}": ${what}`, false);
  if (!isObj(body)) throw bad('the body must be a JSON object');
  const event = parseEvent(body.event, ctx.eventId);
  if (typeof event === 'string') throw bad(event);
  if (!Array.isArray(body.items)) throw bad('items must be an array');
  if (typeof body.nextCursor !== 'string' || body.nextCursor === '') throw bad('nextCursor must be a non-empty string');
  if (typeof body.hasMore !== 'boolean') throw bad('hasMore must be true or false');
  const remaining = typeof body.remaining === 'number' && body.remaining >= 0 ? body.remaining : null;
  const items: SyncItem[] = [];
  const seen = new Set<string>();
  for (const [i, raw] of body.items.entries()) {
    const item = parseItem(raw, ctx, embedders);
    const who = isObj(raw) && typeof raw.userId === 'string' ? ` (userId "${raw.userId}")` : '';
    if (typeof item === 'string') throw bad(`items[${i}]${who}: ${item}`);
    if (seen.has(item.userId)) throw bad(`items[${i}]${who}: the same userId appears twice in one page`);
    seen.add(item.userId);
    items.push(item);
  }
  return { event, items, nextCursor: body.nextCursor, hasMore: body.hasMore, remaining };
}
