// Central server -> AttendeeStore. Pages are fetched from the stored cursor and
// each is applied in ONE transaction together with the cursor that follows it,
// so after any failure or crash the cache holds whole pages only and the next
// run resumes exactly after the last applied one. Photos are downloaded and
// embedded before that transaction opens: a write lock is never held over I/O.
import { logger } from '../log.js';
import type { AttendeeStore, NewEmbedding } from '../store/attendees.js';
import type { CentralClient } from './client.js';
import { SyncError, type AttendeePage, type SyncEmbedding } from './page.js';
import { PhotoRejected, type EmbedPhoto, type FetchPhoto } from './photo.js';
import { isoWithOffset } from '../clock.js';
import { errorText } from '../errors.js';

const log = logger('sync');

export interface SyncProgress {
  eventId: string;
  /** Pages applied so far in this run. */
  pages: number;
  /** Items in the page just applied. */
  items: number;
  /** Items applied so far in this run. */
  done: number;
  /** The server's estimate of items still to come, when it sends one. */
  remaining: number | null;
  hasMore: boolean;
}

export interface SyncResult {
  eventId: string;
  pages: number;
  upserts: number;
  deletions: number;
  embeddedFromPhoto: number;
  /** Attendees whose photo could not be used (logged with the reason). */
  photoProblems: number;
  /** Attendees removed because a fresh snapshot no longer contained them. */
  removedStale: number;
  /** The run started from scratch because the stored cursor was for another model. */
  restartedForModel: boolean;
  /** The run started from scratch because the server no longer knew the stored cursor (HTTP 410). */
  restartedExpired: boolean;
  /** Attendees with no embedding of the current model: not matchable yet. */
  notUsable: number;
  attendees: number;
  cursor: string | null;
  /** Why the event was not synced at all (e.g. past its purge time). */
  skipped: string | null;
  error: string | null;
}

export interface SyncOptions {
  store: AttendeeStore;
  client: CentralClient;
  /** The agent's embedder id; its embeddings are what the gallery matches on. */
  modelId: string;
  pageSize?: number;
  maxRetries?: number;
  retryBackoffMs?: number;
  /** Embeds a photo when the server has no embedding for modelId; absent: such attendees stay unusable. */
  embedPhoto?: EmbedPhoto;
  fetchPhoto?: FetchPhoto;
  /** Hours after an event's end before it is purged (store.purgeGraceHours); absent: keep the stored purge time. */
  purgeGraceHours?: number;
  onProgress?: (p: SyncProgress) => void;
  signal?: AbortSignal;
  /** Injected so tests do not wait out the backoff. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

export class SyncFailure extends Error {
  override name = 'SyncFailure';
  constructor(readonly result: SyncResult) {
    super(result.error ?? 'sync failed');
  }
}

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

type PhotoResult = Map<string, { vector: Float32Array; quality: number } | { problem: string }>;

/** Sync one event; resolves with what changed, throws SyncFailure (with the same counts) when a page failed. */
export async function syncEvent(opts: SyncOptions & { eventId: string }): Promise<SyncResult> {
  const { store, eventId, modelId } = opts;
  const now = opts.now ?? Date.now;
  const r = emptyResult(eventId);
  // sync_state references the event, and a first sync of a new event must be able to record its attempt.
  if (!store.getEvent(eventId)) store.upsertEvent({ id: eventId });
  const state = store.getSyncState(eventId);
  let cursor = state.cursor;
  if (cursor !== null && state.modelId !== modelId) {
    // The pages already applied carried embeddings for another model; only a
    // fresh snapshot brings this model's embeddings (or photos) for everyone.
    log.info({ eventId, from: state.modelId, to: modelId }, 'embedder changed: syncing the event again from the start');
    cursor = null;
    r.restartedForModel = true;
  }
  r.cursor = cursor;
  store.setSyncState(eventId, { lastAttemptAt: now() });
  // A run that starts without a cursor receives a full snapshot; attendees it
  // never mentions were deleted while no tombstone could reach us.
  let snapshot = cursor === null;
  const seen = new Set<string>();
  try {
    for (;;) {
      if (opts.signal?.aborted) throw new SyncError('sync was stopped', false);
      let got;
      try {
        got = await withRetries(opts, async () => {
          const page = await opts.client.fetchPage({ eventId, cursor, limit: opts.pageSize ?? 200, modelId, ...(opts.signal && { signal: opts.signal }) });
          return page && { page, photos: await preparePhotos(opts, eventId, page) };
        });
      } catch (err) {
        // 410: the server dropped the tombstones after our cursor; only a full
        // snapshot (with the sweep at its end) brings the cache up to date.
        if (!(err instanceof SyncError && err.status === 410 && cursor !== null && !snapshot)) throw err;
        log.info({ eventId }, err.message);
        cursor = null;
        snapshot = true;
        r.restartedExpired = true;
        continue;
      }
      if (!got) break; // 304: nothing new since the cursor
      const { page, photos } = got;
      for (const it of page.items) seen.add(it.userId);
      applyPage(opts, eventId, page, photos, r, snapshot && !page.hasMore ? seen : null);
      cursor = page.nextCursor;
      r.cursor = cursor;
      r.pages++;
      log.debug({ eventId, page: r.pages, items: page.items.length, hasMore: page.hasMore }, 'page applied');
      opts.onProgress?.({ eventId, pages: r.pages, items: page.items.length, done: r.upserts + r.deletions, remaining: page.remaining, hasMore: page.hasMore });
      if (!page.hasMore) break;
    }
    store.setSyncState(eventId, { lastSuccessAt: now(), lastError: null });
  } catch (err) {
    r.error = err instanceof SyncError ? err.message : `sync failed: ${errorText(err)}`;
    try {
      store.setSyncState(eventId, { lastError: r.error });
    } catch (e) {
      log.error({ eventId, err: errorText(e) }, 'could not record the sync error');
    }
    log.warn({ eventId, pagesApplied: r.pages, error: r.error }, 'sync failed; the cache keeps every page applied so far');
    finish(store, r, modelId);
    throw new SyncFailure(r);
  }
  finish(store, r, modelId);
  log.info({ eventId, pages: r.pages, upserts: r.upserts, deletions: r.deletions, embeddedFromPhoto: r.embeddedFromPhoto, notUsable: r.notUsable }, 'sync done');
  return r;
}

function finish(store: AttendeeStore, r: SyncResult, modelId: string): void {
  r.notUsable = store.attendeesWithoutModel(r.eventId, modelId).length;
  r.attendees = store.listAttendees(r.eventId).length;
}

async function withRetries<T>(opts: SyncOptions, fn: () => Promise<T>): Promise<T> {
  const max = opts.maxRetries ?? 3;
  const sleep = opts.sleep ?? defaultSleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof SyncError) || !err.retryable || opts.signal?.aborted) throw err;
      if (attempt >= max) throw new SyncError(`${err.message} (gave up after ${attempt + 1} attempt(s); the next sync resumes from the last applied page)`, true, err.status);
      const waitMs = (opts.retryBackoffMs ?? 1000) * 2 ** attempt;
      log.info({ attempt: attempt + 1, waitMs, error: err.message }, 'sync request failed; retrying');
      await sleep(waitMs, opts.signal);
    }
  }
}

/** Download and embed the photos of items that carry no embedding of our model. */
async function preparePhotos(opts: SyncOptions, eventId: string, page: AttendeePage): Promise<PhotoResult> {
  const out: PhotoResult = new Map();
  for (const it of page.items) {
    if (it.deleted || !it.photoUrl || it.embeddings.some((e) => e.modelId === opts.modelId)) continue;
    if (!opts.embedPhoto || !opts.fetchPhoto) {
      out.set(it.userId, { problem: 'the server sent a photo but this run cannot embed photos' });
      continue;
    }
    let outcome;
    try {
      outcome = await opts.embedPhoto(await opts.fetchPhoto(it.photoUrl, opts.signal));
    } catch (err) {
      if (!(err instanceof PhotoRejected)) throw err;
      outcome = { ok: false as const, reason: err.message };
    }
    out.set(it.userId, outcome.ok ? { vector: outcome.vector, quality: outcome.quality } : { problem: outcome.reason });
  }
  return out;
}

function applyPage(opts: SyncOptions, eventId: string, page: AttendeePage, photos: PhotoResult, r: SyncResult, sweepExcept: Set<string> | null): void {
  const { store, modelId } = opts;
  const counts = { upserts: 0, deletions: 0, embeddedFromPhoto: 0, photoProblems: 0, removedStale: 0 };
  store.transaction(() => {
    const existing = store.getEvent(eventId);
    const grace = opts.purgeGraceHours;
    const purgeAfter = page.event.endsAt !== null && grace !== undefined ? page.event.endsAt + grace * 3_600_000 : (existing?.purgeAfter ?? null);
    store.upsertEvent({ id: eventId, name: page.event.name, startsAt: page.event.startsAt, endsAt: page.event.endsAt, purgeAfter });
    for (const it of page.items) {
      if (it.deleted) {
        if (store.removeAttendee(eventId, it.userId)) counts.deletions++;
        continue;
      }
      store.upsertAttendee(eventId, it.session);
      counts.upserts++;
      const byModel = new Map<string, SyncEmbedding[]>();
      for (const e of it.embeddings) byModel.set(e.modelId, [...(byModel.get(e.modelId) ?? []), e]);
      // A model's set is replaced only when the item carries one: an attendee
      // whose new photo failed keeps the embedding that worked before.
      for (const [m, list] of byModel) store.replaceEmbeddings(eventId, it.userId, m, list.map((e): NewEmbedding => ({ ...e, source: 'sync' })));
      const photo = photos.get(it.userId);
      if (photo && 'vector' in photo) {
        store.replaceEmbeddings(eventId, it.userId, modelId, [{ modelId, vector: photo.vector, quality: photo.quality, source: 'sync' }]);
        counts.embeddedFromPhoto++;
      } else if (photo) {
        counts.photoProblems++;
        log.warn({ eventId, userId: it.userId, reason: photo.problem }, 'attendee photo not usable; the attendee cannot be matched with this model');
      }
    }
    if (sweepExcept) counts.removedStale = sweepStale(store, eventId, sweepExcept);
    store.setSyncState(eventId, { cursor: page.nextCursor, modelId });
  });
  // Counted only once committed, so a rolled-back page adds nothing to the summary.
  r.upserts += counts.upserts;
  r.deletions += counts.deletions;
  r.embeddedFromPhoto += counts.embeddedFromPhoto;
  r.photoProblems += counts.photoProblems;
  r.removedStale += counts.removedStale;
}

/** Remove attendees a complete snapshot did not contain, except those enrolled at this gate. */
function sweepStale(store: AttendeeStore, eventId: string, keep: Set<string>): number {
  const rows = store.db
    .prepare(
      `SELECT user_id FROM attendees a WHERE event_id = ? AND NOT EXISTS
         (SELECT 1 FROM embeddings m WHERE m.event_id = a.event_id AND m.user_id = a.user_id AND m.source = 'enroll')`,
    )
    .all(eventId) as { user_id: string }[];
  let n = 0;
  for (const { user_id } of rows) if (!keep.has(user_id) && store.removeAttendee(eventId, user_id)) n++;
  return n;
}

export interface SyncAllOptions extends SyncOptions {
  /** Event ids to sync; empty or absent: every event in the store. */
  events?: string[];
}

/** Sync several events one after the other; one event's failure does not stop the others. */
export async function syncAll(opts: SyncAllOptions): Promise<SyncResult[]> {
  const now = opts.now ?? Date.now;
  const ids = opts.events?.length ? opts.events : opts.store.listEvents().map((e) => e.id);
  const results: SyncResult[] = [];
  for (const eventId of ids) {
    if (opts.signal?.aborted) break;
    const ev = opts.store.getEvent(eventId);
    if (ev?.purgeAfter != null && ev.purgeAfter <= now()) {
      // Its biometric data was deleted on purpose; syncing would download it again.
      results.push({ ...emptyResult(eventId), skipped: `event ended and its attendees were purged at ${isoWithOffset(ev.purgeAfter)}` });
      continue;
    }
    try {
      results.push(await syncEvent({ ...opts, eventId }));
    } catch (err) {
      if (!(err instanceof SyncFailure)) throw err;
      results.push(err.result);
    }
  }
  return results;
}

function emptyResult(eventId: string): SyncResult {
  return {
    eventId, pages: 0, upserts: 0, deletions: 0, embeddedFromPhoto: 0, photoProblems: 0, removedStale: 0,
    restartedForModel: false, restartedExpired: false, notUsable: 0, attendees: 0, cursor: null, skipped: null, error: null,
  };
}
