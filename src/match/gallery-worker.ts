// Worker thread: reads one slice of an event's embeddings (attendees from lo up to hi) on
// its own read-only connection, opens them with the store key, fuses or keeps them, and
// quantises them into int8 columns that are transferred back. The gate's loop does none
// of this work, so loading 100k attendees never stalls a frame, a message or a request.
import BetterSqlite3 from 'better-sqlite3';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { FieldCipher } from '../store/crypto.js';
import { vectorAt } from '../store/sealed-columns.js';
import { ColumnWriter, normalizeInPlace, type GalleryColumns } from './gallery-columns.js';
import { errorText } from '../errors.js';

export interface GalleryWorkerInput {
  task: 'gallery-columns';
  dbFile: string;
  /** The store key (32 bytes) or null; in-process only, never logged. */
  key: Uint8Array | null;
  eventId: string;
  modelId: string;
  dim: number;
  fused: boolean;
  /** Attendee id range [lo, hi); null: open. */
  lo: string | null;
  hi: string | null;
}

function range(i: GalleryWorkerInput): { where: string; args: (string | null)[] } {
  const parts = ['event_id = ?', 'model_id = ?'];
  const args: (string | null)[] = [i.eventId, i.modelId];
  if (i.lo !== null) {
    parts.push('user_id >= ?');
    args.push(i.lo);
  }
  if (i.hi !== null) {
    parts.push('user_id < ?');
    args.push(i.hi);
  }
  return { where: parts.join(' AND '), args };
}

export interface SplitPointsInput {
  task: 'gallery-split';
  dbFile: string;
  eventId: string;
  modelId: string;
  parts: number;
}

/**
 * Attendee ids that cut the event's embeddings into `parts` slices of about equal size
 * (none when there are too few to be worth it). Read here, off the loop: stepping over
 * 50k index entries took half a second on a loaded machine.
 */
export function splitPoints(i: SplitPointsInput): string[] {
  const db = new BetterSqlite3(i.dbFile, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const rows = (db.prepare('SELECT COUNT(*) FROM embeddings WHERE event_id = ? AND model_id = ?').pluck().get(i.eventId, i.modelId) as number) ?? 0;
    if (i.parts <= 1 || rows < i.parts * 1000) return [];
    const at = db.prepare('SELECT user_id FROM embeddings WHERE event_id = ? AND model_id = ? ORDER BY user_id LIMIT 1 OFFSET ?').pluck();
    const cuts: string[] = [];
    for (let k = 1; k < i.parts; k++) {
      const u = at.get(i.eventId, i.modelId, Math.floor((rows * k) / i.parts)) as string | undefined;
      if (u !== undefined && u !== cuts[cuts.length - 1]) cuts.push(u);
    }
    return cuts;
  } finally {
    db.close();
  }
}

export function buildColumns(i: GalleryWorkerInput): GalleryColumns {
  const db = new BetterSqlite3(i.dbFile, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const cipher = new FieldCipher(i.key ? Buffer.from(i.key) : null);
    const { where, args } = range(i);
    const read = db.transaction(() => {
      const counts = db.prepare(`SELECT COUNT(*) AS rows, COUNT(DISTINCT user_id) AS users FROM embeddings WHERE ${where}`).get(...args) as { rows: number; users: number };
      const cap = i.fused ? counts.users : counts.rows;
      const mat = new Int8Array(i.dim * cap);
      const invScale = new Float32Array(cap);
      const colSum = new Int32Array(cap);
      const users: string[] = [];
      const memberIds = new Float64Array(counts.rows);
      const memberStart = new Int32Array(cap + 1);
      const out = new ColumnWriter(mat, i.dim, cap);
      let n = 0;
      let m = 0;
      let cur: string | null = null;
      // One vector and one template buffer for the whole read: a 100k load allocated two
      // arrays per row before, and the allocations, not the arithmetic, took the time.
      const v = new Float32Array(i.dim);
      const sum = new Float32Array(i.dim);
      const close = () => {
        if (cur === null) return;
        // A template that sums to zero is dropped, like FusedGallery drops it.
        if (normalizeInPlace(sum)) {
          [invScale[n], colSum[n]] = out.write(sum, n);
          users[n] = cur;
          n++;
          memberStart[n] = m;
        } else {
          m = memberStart[n]!;
        }
      };
      const stmt = db.prepare(`SELECT id, user_id, vector FROM embeddings WHERE ${where} ORDER BY user_id, id`);
      for (const r of stmt.iterate(...args) as Iterable<{ id: number; user_id: string; vector: Buffer }>) {
        // The same row binding the store seals with: a vector moved between rows is refused here too.
        if (!cipher.openVectorInto(r.vector, vectorAt(r.id, i.eventId, r.user_id, i.modelId), v)) throw new Error(`embedding ${r.id} has ${cipher.open(r.vector, vectorAt(r.id, i.eventId, r.user_id, i.modelId)).byteLength / 4} values, the gallery holds ${i.dim}`);
        if (!i.fused) {
          [invScale[n], colSum[n]] = out.write(v, n);
          users[n] = r.user_id;
          memberIds[m++] = r.id;
          n++;
          memberStart[n] = m;
          continue;
        }
        if (r.user_id !== cur) {
          close();
          cur = r.user_id;
          sum.set(v);
        } else addInto(sum, v);
        memberIds[m++] = r.id;
      }
      close();
      out.flush();
      // Columns are packed with stride cap; a dropped template leaves cap > n.
      const packed = cap === n ? mat : repack(mat, i.dim, cap, n);
      return { n, dim: i.dim, mat: packed, invScale: invScale.slice(0, n), colSum: colSum.slice(0, n), users, memberIds: memberIds.slice(0, m), memberStart: memberStart.slice(0, n + 1) };
    });
    return read();
  } finally {
    db.close();
  }
}

/** sum += v, element by element (both the same length). */
function addInto(sum: Float32Array, v: Float32Array): void {
  for (let d = 0; d < sum.length; d++) sum[d]! += v[d]!;
}

function repack(mat: Int8Array, dim: number, cap: number, n: number): Int8Array {
  const out = new Int8Array(dim * n);
  for (let d = 0; d < dim; d++) out.set(mat.subarray(d * cap, d * cap + n), d * n);
  return out;
}

const task = isMainThread ? undefined : (workerData as { task?: string } | null)?.task;
if (parentPort && task === 'gallery-split') {
  try {
    parentPort.postMessage({ ok: true, cuts: splitPoints(workerData as SplitPointsInput) });
  } catch (err) {
    parentPort.postMessage({ ok: false, error: errorText(err) });
  }
}
if (parentPort && task === 'gallery-columns') {
  try {
    const cols = buildColumns(workerData as GalleryWorkerInput);
    const buffers = [cols.mat, cols.invScale, cols.colSum, cols.memberIds, cols.memberStart].map((a) => a.buffer as ArrayBuffer);
    parentPort.postMessage({ ok: true, cols }, buffers);
  } catch (err) {
    parentPort.postMessage({ ok: false, error: errorText(err) });
  }
}
