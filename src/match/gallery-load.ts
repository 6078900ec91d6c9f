// Loading an event's gallery off the gate's loop: worker threads read, decrypt, fuse and
// quantise slices of the attendees in parallel; the loop only lays the slices side by
// side (a memory copy) and indexes the ids.
import { Worker } from 'node:worker_threads';
import type { AttendeeStore } from '../store/attendees.js';
import type { GalleryColumns } from './gallery-columns.js';
import type { GalleryWorkerInput } from './gallery-worker.js';

export interface ColumnLoadOptions {
  eventId: string;
  modelId: string;
  dim: number;
  fused: boolean;
  /** Worker threads, each reading one slice of the attendees. */
  workers: number;
}

/** Attendee ids that cut the event's embeddings into `parts` slices of about equal size. */
export function splitPoints(store: AttendeeStore, eventId: string, modelId: string, parts: number): string[] {
  const rows = store.countEmbeddings(eventId, modelId);
  if (parts <= 1 || rows < parts * 1000) return [];
  const stmt = store.db.prepare('SELECT user_id FROM embeddings WHERE event_id = ? AND model_id = ? ORDER BY user_id LIMIT 1 OFFSET ?').pluck();
  const cuts: string[] = [];
  for (let k = 1; k < parts; k++) {
    const u = stmt.get(eventId, modelId, Math.floor((rows * k) / parts)) as string | undefined;
    if (u !== undefined && u !== cuts[cuts.length - 1]) cuts.push(u);
  }
  return cuts;
}

function runWorker(input: GalleryWorkerInput): Promise<GalleryColumns> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./gallery-worker.js', import.meta.url), { workerData: input });
    let settled = false;
    w.once('message', (m: { ok: true; cols: GalleryColumns } | { ok: false; error: string }) => {
      settled = true;
      if (m.ok) resolve(m.cols);
      else reject(new Error(m.error));
    });
    w.once('error', (err) => {
      settled = true;
      reject(err);
    });
    w.once('exit', (code) => {
      if (!settled) reject(new Error(`gallery loader thread exited with code ${code} before it answered`));
    });
  });
}

/** The event's columns, in slices ordered by attendee id. */
export async function loadColumns(store: AttendeeStore, o: ColumnLoadOptions): Promise<GalleryColumns[]> {
  const cuts = splitPoints(store, o.eventId, o.modelId, o.workers);
  const bounds = [null, ...cuts, null];
  const key = store.cipher.keyForWorker();
  const jobs: Promise<GalleryColumns>[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    jobs.push(runWorker({ task: 'gallery-columns', dbFile: store.db.name, key, eventId: o.eventId, modelId: o.modelId, dim: o.dim, fused: o.fused, lo: bounds[k] ?? null, hi: bounds[k + 1] ?? null }));
  }
  return Promise.all(jobs);
}
