// Loading an event's gallery off the gate's loop: worker threads read, decrypt, fuse and
// quantise slices of the attendees in parallel; the loop only lays the slices side by
// side (a memory copy) and indexes the ids.
import { Worker } from 'node:worker_threads';
import type { AttendeeStore } from '../store/attendees.js';
import type { GalleryColumns } from './gallery-columns.js';
import type { GalleryWorkerInput, SplitPointsInput } from './gallery-worker.js';

export interface ColumnLoadOptions {
  eventId: string;
  modelId: string;
  dim: number;
  fused: boolean;
  /** Worker threads, each reading one slice of the attendees. */
  workers: number;
}

function runWorker<T>(input: GalleryWorkerInput | SplitPointsInput, pick: (m: Record<string, unknown>) => T): Promise<T> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./gallery-worker.js', import.meta.url), { workerData: input });
    let settled = false;
    w.once('message', (m: { ok: boolean; error?: string } & Record<string, unknown>) => {
      settled = true;
      if (m.ok) resolve(pick(m));
      else reject(new Error(m.error ?? 'gallery loader thread failed'));
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
  const dbFile = store.db.name;
  const cuts = o.workers > 1 ? await runWorker({ task: 'gallery-split', dbFile, eventId: o.eventId, modelId: o.modelId, parts: o.workers }, (m) => m.cuts as string[]) : [];
  const bounds = [null, ...cuts, null];
  const key = store.cipher.keyForWorker();
  const jobs: Promise<GalleryColumns>[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    jobs.push(runWorker({ task: 'gallery-columns', dbFile, key, eventId: o.eventId, modelId: o.modelId, dim: o.dim, fused: o.fused, lo: bounds[k] ?? null, hi: bounds[k + 1] ?? null }, (m) => m.cols as GalleryColumns));
  }
  return Promise.all(jobs);
}
