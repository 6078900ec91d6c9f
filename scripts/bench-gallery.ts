// npm run bench:gallery: 1:N search p50/p99 at 1k, 10k, 100k and 1M random unit
// 512-d vectors; load time of 100k attendees from SQLite into the gallery; memory.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gallery } from '../src/match/gallery.js';
import { Galleries } from '../src/match/galleries.js';
import { AttendeeStore } from '../src/store/attendees.js';
import { FieldCipher } from '../src/store/crypto.js';
import { openDatabase } from '../src/store/db.js';
import { localSession } from '../src/store/session.js';
import { unitVectors } from '../test/vectors.js';
import { percentile } from './stats.js';

const DIM = 512;
const threads = Number(process.env.BENCH_THREADS ?? 1);
const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;

async function searchBench(n: number): Promise<void> {
  // Vectors are regenerated from their seed when re-scored, so 1M of them need not
  // be held as floats by the benchmark itself.
  const g = new Gallery({ dim: DIM, threads, rescoreTop: 32, vectorOf: (id) => unitVectors(1, DIM, id + 1)[0], initialCapacity: n });
  await g.start();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) g.add(i, `u${i}`, unitVectors(1, DIM, i + 1)[0]!);
  const addMs = performance.now() - t0;
  const queries = unitVectors(60, DIM, 987654);
  for (const q of queries.slice(0, 5)) await g.search(q, 2);
  const ts: number[] = [];
  for (const q of queries) {
    const t = performance.now();
    await g.search(q, 2);
    ts.push(performance.now() - t);
  }
  console.log(`  ${String(n).padStart(8)} vectors: search p50 ${percentile(ts, 50).toFixed(2)} ms, p99 ${percentile(ts, 99).toFixed(2)} ms; gallery ${mb(g.bytes)}; built in ${(addMs / 1000).toFixed(1)} s`);
  await g.stop();
}

/** Child mode: open a prepared DB, load its gallery, report time and memory. */
async function loadChild(dir: string): Promise<void> {
  const store = new AttendeeStore(openDatabase(dir), new FieldCipher(null));
  const galleries = new Galleries(store, { modelId: 'bench', dim: DIM, threads, rescoreTop: 32 });
  galleries.start();
  global.gc?.();
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  const g = await galleries.get('ev');
  const ms = performance.now() - t0;
  global.gc?.();
  const after = process.memoryUsage().rss;
  console.log(JSON.stringify({ n: g.size, ms, rssBefore: before, rssAfter: after }));
  await galleries.stop();
  store.db.close();
}

async function main(): Promise<void> {
  if (process.argv[2] === '--load-child') return loadChild(process.argv[3]!);
  console.log(`gallery search (int8 scan in onnxruntime, ${threads} thread(s), top-32 re-scored exactly)`);
  for (const n of [1_000, 10_000, 100_000, 1_000_000]) await searchBench(n);

  const N = 100_000;
  const dir = mkdtempSync(join(tmpdir(), 'bench-gallery-'));
  try {
    const store = new AttendeeStore(openDatabase(dir), new FieldCipher(null));
    store.upsertEvent({ id: 'ev' });
    const t0 = performance.now();
    for (let start = 0; start < N; start += 5000) {
      store.transaction(() => {
        for (let i = start; i < start + 5000; i++) {
          store.upsertAttendee('ev', localSession(`u${i}`, { name: `Attendee ${i}` }));
          store.addEmbedding('ev', `u${i}`, { vector: unitVectors(1, DIM, i + 1)[0]!, modelId: 'bench', quality: null, source: 'sync' });
        }
      });
    }
    console.log(`SQLite: ${N} attendees with embeddings written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    store.db.close();
    const loads = [];
    for (let run = 0; run < 3; run++) {
      const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--load-child', dir], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
      loads.push(JSON.parse(r.stdout.trim()) as { n: number; ms: number; rssBefore: number; rssAfter: number });
    }
    const ms = percentile(loads.map((l) => l.ms), 50);
    const l = loads[0]!;
    console.log(`load ${l.n} attendees from SQLite into the gallery: median ${(ms / 1000).toFixed(2)} s over ${loads.length} runs`);
    console.log(`memory: process RSS ${mb(l.rssAfter)} with the 100k gallery loaded (${mb(l.rssAfter - l.rssBefore)} added by it)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
