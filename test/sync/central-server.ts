// A central Securegate server on 127.0.0.1 implementing docs/central-api.md:
// an in-memory change log with cursors, tombstones, embeddings per model or a
// photo URL, ETag/304, API-key check, and injectable faults (reset mid-page,
// HTTP errors, malformed JSON, bad items, a server that never answers).
// Reusable by any test that needs a central server (the daemon's included).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { localSession, type AttendeeSession } from '../../src/store/session.js';
import { encodeVector } from '../../src/sync/page.js';

export interface ServerAttendee {
  session: AttendeeSession;
  /** Embeddings the server holds, per model id. */
  embeddings?: { modelId: string; vector: Float32Array; quality?: number }[];
  /** Name of a photo in `photos`, served at /photos/<name> when no embedding fits the asked model. */
  photo?: string;
}

export type Fault =
  | { kind: 'reset' } // headers and half the body, then the socket is destroyed
  | { kind: 'status'; status: number }
  | { kind: 'malformed' } // a truncated JSON body with a matching content-length
  | { kind: 'hang' } // never answers
  | { kind: 'mutate'; fn: (body: PageBody) => unknown };

export interface PageQuery {
  cursor: string | null;
  /** 1-based count of page requests this server has received. */
  n: number;
}

export interface PageBody {
  event: { id: string; name: string; startsAt: string | null; endsAt: string | null };
  items: Record<string, unknown>[];
  nextCursor: string;
  hasMore: boolean;
  remaining: number;
}

export interface RequestLog {
  eventId: string;
  cursor: string | null;
  limit: number;
  model: string | null;
  status: number;
  apiKey: string | undefined;
}

// A cursor is `seq:<n>` (changes after n) or, while a snapshot is being paged,
// `snap:<n>:<head>`: current attendees after n, plus tombstones of deletions made
// after the snapshot began at <head>. Opaque to the client either way.
interface Cursor {
  after: number;
  snapHead: number | null;
}
const encodeCursor = (c: Cursor): string => Buffer.from(c.snapHead === null ? `seq:${c.after}` : `snap:${c.after}:${c.snapHead}`).toString('base64url');
function decodeCursor(c: string): Cursor | null {
  const m = /^(?:seq:(\d+)|snap:(\d+):(\d+))$/.exec(Buffer.from(c, 'base64url').toString());
  if (!m) return null;
  return m[1] !== undefined ? { after: Number(m[1]), snapHead: null } : { after: Number(m[2]), snapHead: Number(m[3]) };
}

/** A session in the contract's shape with some KYC, so sealing is exercised. */
export function makeSession(userId: string, name = `Attendee ${userId}`): AttendeeSession {
  const s = localSession(userId, { name, email: `${userId}@example.com`, phone: '5551234567', countryCode: '+1' });
  s.kyc = [{ _id: `kyc_${userId}`, stepId: 'kyc', data: { kyc: { document: { idNumber: { value: `DL-${userId}`, verified: true } } } } }];
  s.qrId = `qr_${userId}`;
  return s;
}

/** A deterministic unit vector for synthetic attendees. */
export function fakeVector(seed: number, dim = 512): Float32Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  const v = new Float32Array(dim);
  let n = 0;
  for (let i = 0; i < dim; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    v[i] = x / 0xffffffff - 0.5;
    n += v[i]! * v[i]!;
  }
  return v.map((a) => a / Math.sqrt(n));
}

export class CentralServer {
  readonly apiKey = `test-key-${Math.random().toString(36).slice(2)}`;
  /** An event running now (from an hour ago to a day ahead): the suite must pass on any date. */
  event = { id: 'evt_test', name: 'Test Event', startsAt: new Date(Date.now() - 3_600_000).toISOString() as string | null, endsAt: new Date(Date.now() + 86_400_000).toISOString() as string | null };
  /** userId -> data (null: deleted) and the sequence number of its last change. */
  private readonly log = new Map<string, { data: ServerAttendee | null; seq: number }>();
  private seq = 0;
  /** Cursors before this sequence number have expired (their tombstones are gone). */
  private horizon = 0;
  readonly photos = new Map<string, Buffer>();
  /** When set, every photo request is answered with this HTTP status. */
  photoStatus: number | null = null;
  readonly photoRequests: string[] = [];
  readonly requests: RequestLog[] = [];
  /** Every page answered with 200: its cursor, nextCursor and the userIds it carried. */
  readonly served: { cursor: string | null; nextCursor: string; userIds: string[] }[] = [];
  fault: ((q: PageQuery) => Fault | undefined) | null = null;
  /** Wait before answering each page (lets a test kill a client mid-sync). */
  pageDelayMs = 0;
  private server: http.Server | null = null;
  private readonly sockets = new Set<Socket>();
  private pageRequests = 0;
  baseUrl = '';

  put(userId: string, data: ServerAttendee): void {
    this.log.set(userId, { data, seq: ++this.seq });
  }

  remove(userId: string): void {
    this.log.set(userId, { data: null, seq: ++this.seq });
  }

  /**
   * Drop an attendee together with its tombstone, as a server does once its
   * tombstone retention has passed; cursors from before are answered 410.
   */
  forget(userId: string): void {
    this.log.delete(userId);
    this.horizon = ++this.seq;
  }

  /** The cursor the server hands out after a page ending at the current last change. */
  headCursor(): string {
    return encodeCursor({ after: this.seq, snapHead: null });
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }

  /** The page the contract defines for this cursor, limit and model. */
  page(cursor: string | null, limit: number, model: string | null): PageBody {
    const c: Cursor = cursor === null ? { after: 0, snapHead: this.seq } : (decodeCursor(cursor) ?? { after: 0, snapHead: null });
    const { after, snapHead } = c;
    const changes = [...this.log.entries()]
      .filter(([, e]) => e.seq > after && (snapHead === null || e.data !== null || e.seq > snapHead))
      .sort((a, b) => a[1].seq - b[1].seq);
    const take = changes.slice(0, limit);
    const last = take[take.length - 1];
    const hasMore = changes.length > limit;
    const lastSeq = last ? last[1].seq : snapHead !== null ? Math.max(after, snapHead) : after;
    const items = take.map(([userId, e]) => {
      if (!e.data) return { userId, deleted: true };
      const emb = (e.data.embeddings ?? []).filter((x) => x.modelId === model);
      return {
        userId,
        session: e.data.session,
        ...(emb.length && { embeddings: emb.map((x) => ({ modelId: x.modelId, vector: encodeVector(x.vector), ...(x.quality !== undefined && { quality: x.quality }) })) }),
        ...(!emb.length && e.data.photo && { photoUrl: `${this.baseUrl}/photos/${e.data.photo}` }),
      };
    });
    return {
      event: this.event,
      items,
      // The last page of a snapshot hands over a plain change cursor.
      nextCursor: encodeCursor({ after: lastSeq, snapHead: hasMore ? snapHead : null }),
      hasMore,
      remaining: Math.max(0, changes.length - limit),
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const photo = /^\/photos\/([^/]+)$/.exec(url.pathname);
    if (photo) {
      this.photoRequests.push(decodeURIComponent(photo[1]!));
      if (this.photoStatus) return json(res, this.photoStatus, { detail: 'injected photo failure' });
      const body = this.photos.get(decodeURIComponent(photo[1]!));
      if (!body) return json(res, 404, { detail: 'no such photo' });
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length });
      return void res.end(body);
    }
    const m = /^\/v1\/events\/([^/]+)\/attendees$/.exec(url.pathname);
    if (!m || req.method !== 'GET') return json(res, 404, { detail: 'not found' });
    const cursor = url.searchParams.get('cursor');
    const limit = Number(url.searchParams.get('limit') ?? 100);
    const model = url.searchParams.get('model');
    const entry: RequestLog = { eventId: decodeURIComponent(m[1]!), cursor, limit, model, status: 0, apiKey: req.headers['x-api-key'] as string | undefined };
    this.requests.push(entry);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      entry.status = status;
      json(res, status, body, headers);
    };
    if (req.headers['x-api-key'] !== this.apiKey) return reply(401, { detail: 'invalid API key' });
    if (decodeURIComponent(m[1]!) !== this.event.id) return reply(404, { detail: 'unknown event' });
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return reply(400, { detail: 'limit must be 1..1000' });
    if (cursor !== null && decodeCursor(cursor) === null) return reply(400, { detail: 'invalid cursor; restart without one' });
    const cur = cursor === null ? null : decodeCursor(cursor)!;
    if (cur && (cur.snapHead ?? cur.after) < this.horizon) return reply(410, { detail: 'cursor expired; sync again without a cursor' });
    const fault = this.fault?.({ cursor, n: ++this.pageRequests });
    if (this.pageDelayMs) await new Promise((r) => setTimeout(r, this.pageDelayMs));
    const etag = `W/"${this.seq}-${cursor ?? ''}-${limit}-${model ?? ''}"`;
    if (!fault && req.headers['if-none-match'] === etag) {
      entry.status = 304;
      res.writeHead(304, { etag });
      return void res.end();
    }
    const body = this.page(cursor, limit, model);
    if (fault?.kind === 'status') return reply(fault.status, { detail: `injected HTTP ${fault.status}` });
    if (fault?.kind === 'hang') return; // the socket stays open until the client gives up or stop()
    const text = JSON.stringify(fault?.kind === 'mutate' ? (fault.fn(body) ?? body) : body);
    entry.status = 200;
    if (fault?.kind === 'malformed') {
      const cut = text.slice(0, Math.floor(text.length / 2));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(cut) });
      return void res.end(cut);
    }
    if (fault?.kind === 'reset') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.write(text.slice(0, Math.floor(text.length / 2)));
      // Let the half body reach the client before the connection is cut.
      return void setTimeout(() => req.socket.destroy(), 20);
    }
    if (!fault) this.served.push({ cursor, nextCursor: body.nextCursor, userIds: body.items.map((i) => i.userId as string) });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), etag });
    res.end(text);
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
