// Throughput and latency of POST /identity over loopback: N concurrent
// keep-alive clients for a fixed time, reporting requests/s and p50/p95/p99.
// By default the service is the real one (LocalIdentityService: models,
// gallery, SQLite store and outbox in a temp dir, one enrolled attendee) and
// the image comes from a loopback HTTP server on the allow-list, so a request
// pays for everything a client's would. `--service fake` measures the HTTP
// layer alone (a static answer, image as a data: URL).
//
//   npx tsc -p tsconfig.json && node dist/scripts/bench-api.js [--service real|fake] [--concurrency 8] [--duration-ms 5000]
//     [--image probe.jpg] [--enroll photo.jpg] [--models-dir dir] [--json]
import '../test/api/quiet-logs.js';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { Command, Option } from 'commander';
import sharp from 'sharp';
import type { ApiConfig } from '../src/config/sections/api.js';
import { createApiServer } from '../src/api/server.js';
import { createKey, SqliteApiKeyStore } from '../src/api/keys.js';
import type { IdentifyOutcome, IdentityService } from '../src/api/identity-service.js';
import { LocalIdentityService } from '../src/app/identity.js';
import { startRecognition } from '../src/app/recognition.js';
import { loadConfig } from '../src/config/load.js';
import { enrollAttendee } from '../src/enroll/enroll.js';
import { Outbox } from '../src/publish/outbox.js';
import { specSession } from './spec-session.js';
import { SHARED_FACES, SHARED_MODELS } from './paths.js';
import { migrate } from '../src/store/migrations.js';

export interface BenchOptions {
  identity: IdentityService;
  eventId: string;
  /** Any image_url the server accepts; a data: URL keeps the network out of the measurement. */
  imageUrl: string;
  concurrency?: number;
  durationMs?: number;
  /** Merged over the bench's own (rate limits off), e.g. an image allow-list. */
  apiConfig?: Partial<ApiConfig>;
}

export interface BenchResult {
  concurrency: number;
  durationMs: number;
  requests: number;
  requestsPerSec: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Count per HTTP status; anything but 200 means the run measured errors. */
  statuses: Record<string, number>;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  const concurrency = opts.concurrency ?? 8;
  const durationMs = opts.durationMs ?? 5000;
  const dir = mkdtempSync(join(tmpdir(), 'gate-bench-'));
  const db = new Database(join(dir, 'bench.db'));
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  migrate(db);
  const { key } = createKey(db, 'bench');
  // Rate limits off: the point is the server's own ceiling.
  const server = createApiServer({
    identity: opts.identity,
    keys: new SqliteApiKeyStore(db),
    config: { rateLimitPerKeyBurst: 1e9, rateLimitPerKeyPerSec: 1e9, rateLimitPerIpBurst: 1e9, rateLimitPerIpPerSec: 1e9, rateLimitTotalBurst: 1e9, rateLimitTotalPerSec: 1e9, maxQueuedRecognitions: 1e6, queueTimeoutMs: 600_000, ...opts.apiConfig },
  });
  try {
    const { port } = await server.listen('127.0.0.1', 0);
    const path = `/identity?${new URLSearchParams({ event_id: opts.eventId, image_url: opts.imageUrl }).toString()}`;
    const once = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'x-api-key': key } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    const latencies: number[] = [];
    const statuses: Record<string, number> = {};
    const t0 = performance.now();
    const deadline = t0 + durationMs;
    const worker = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const start = performance.now();
        const status = await once();
        latencies.push(performance.now() - start);
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const elapsed = performance.now() - t0;
    latencies.sort((a, b) => a - b);
    const round = (x: number): number => Math.round(x * 1000) / 1000;
    return {
      concurrency,
      durationMs: Math.round(elapsed),
      requests: latencies.length,
      requestsPerSec: Math.round((latencies.length / elapsed) * 1000),
      p50Ms: round(quantile(latencies, 0.5)),
      p95Ms: round(quantile(latencies, 0.95)),
      p99Ms: round(quantile(latencies, 0.99)),
      statuses,
    };
  } finally {
    agent.destroy();
    await server.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Answers every request with the spec's example session, like the contract tests' fake. */
export class StaticIdentity implements IdentityService {
  hasEvent(): boolean {
    return true;
  }

  async identify(): Promise<IdentifyOutcome> {
    return { kind: 'match', session: specSession };
  }
}

export interface RealSetup {
  identity: IdentityService;
  eventId: string;
  /** http://127.0.0.1:<port>/probe on the setup's image server. */
  imageUrl: string;
  /** Allow-list entry for that server. */
  allowHost: string;
  /** Verifications appended to the attendee's activities so far. */
  activities(): number;
  close(): Promise<void>;
}

/**
 * The real service over a temp store: `enroll` is enrolled as the only
 * attendee of one event, `probe` is served from loopback for the requests.
 */
export async function setupReal(opts: { modelsDir: string; enroll: Buffer; probe: Buffer }): Promise<RealSetup> {
  const dir = mkdtempSync(join(tmpdir(), 'gate-bench-real-'));
  const config = loadConfig({ file: null, env: {}, overrides: {} });
  const rec = await startRecognition(config, opts.modelsDir, dir);
  const images = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end(opts.probe));
  const close = async (): Promise<void> => {
    images.closeAllConnections();
    await new Promise<void>((resolve) => images.close(() => resolve()));
    await rec.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const eventId = 'evt_bench';
    rec.store.upsertEvent({ id: eventId });
    await enrollAttendee(
      { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config: rec.config, embedderId: rec.embedderId },
      { eventId, userId: 'usr_bench', name: 'Bench Attendee', photos: [{ label: 'enroll', data: opts.enroll }] },
    );
    // The bench records thousands of verifications; keep them all (no drops mid-run).
    const outbox = new Outbox(rec.store.db, { identity: { gateId: 'bench', siteId: 'bench', eventId: '', modelId: rec.embedderId }, maxMessages: 1e7 });
    const identity = new LocalIdentityService({ store: rec.store, recognizer: rec.recognizer, outbox });
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
    const port = (images.address() as AddressInfo).port;
    return {
      identity,
      eventId,
      imageUrl: `http://127.0.0.1:${port}/probe`,
      allowHost: `127.0.0.1:${port}`,
      activities: () => rec.store.getSession(eventId, 'usr_bench')?.activities.length ?? 0,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

function report(label: string, r: BenchResult): string {
  return (
    `POST /identity (${label}), ${r.concurrency} clients, ${r.durationMs} ms: ${r.requests} requests, ${r.requestsPerSec} req/s, ` +
    `p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms, p99 ${r.p99Ms} ms, statuses ${JSON.stringify(r.statuses)}`
  );
}

async function main(argv: string[]): Promise<void> {
  const cli = new Command('bench-api')
    .addOption(new Option('--service <kind>', 'real: the face pipeline over a temp store; fake: a static answer (HTTP layer only)').choices(['real', 'fake']).default('real'))
    .option('--concurrency <n>', 'concurrent clients', '8')
    .option('--duration-ms <ms>', 'how long to run', '5000')
    .option('--image <file>', 'image sent in each request (default real: shared/faces/people/obama/2.jpg; fake: a generated 64x64 PNG)')
    .option('--enroll <file>', 'photo of the enrolled attendee (real; default shared/faces/people/obama/1.jpg)')
    .option('--models-dir <dir>', 'model folder (real)', process.env.GATE_AGENT_MODELS_DIR ?? SHARED_MODELS)
    .option('--json', 'print the result as JSON')
    .option('--hostile', 'keep scan bombs and PNG bombs in flight and measure a legitimate client and a gate loop (scripts/bench-api-hostile.ts)')
    .option('--scan-bombs <n>', 'with --hostile: scan bombs in flight', '4')
    .option('--png-bombs <n>', 'with --hostile: PNG bombs in flight', '20')
    .option('--inference-worker <list>', 'with --hostile: vision.inferenceWorker for each run, in order (on, off or on,off)', 'on')
    .parse(argv);
  const h = cli.opts<{ hostile?: boolean; scanBombs: string; pngBombs: string; durationMs: string; modelsDir: string; inferenceWorker: string }>();
  if (h.hostile) {
    const { runHostile } = await import('./bench-api-hostile.js');
    for (const mode of h.inferenceWorker.split(',')) {
      if (mode !== 'on' && mode !== 'off') throw new Error(`--inference-worker: ${JSON.stringify(mode)}: use on, off or on,off`);
      const r = await runHostile({ scanBombs: Number(h.scanBombs), pngBombs: Number(h.pngBombs), durationMs: Number(h.durationMs), modelsDir: h.modelsDir, inferenceWorker: mode === 'on' });
      console.log(JSON.stringify(r));
    }
    return;
  }
  const o = cli.opts<{ service: 'real' | 'fake'; concurrency: string; durationMs: string; image?: string; enroll?: string; modelsDir: string; json?: boolean }>();
  const run = { concurrency: Number(o.concurrency), durationMs: Number(o.durationMs) };
  if (o.service === 'fake') {
    const bytes = o.image
      ? readFileSync(o.image)
      : await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).png().toBuffer();
    const result = await runBench({ identity: new StaticIdentity(), eventId: 'evt_bench', imageUrl: `data:image/png;base64,${bytes.toString('base64')}`, ...run });
    console.log(o.json ? JSON.stringify({ service: 'fake', ...result }) : report('fake service', result));
    return;
  }
  const real = await setupReal({
    modelsDir: o.modelsDir,
    enroll: readFileSync(o.enroll ?? join(SHARED_FACES, 'people/obama/1.jpg')),
    probe: readFileSync(o.image ?? join(SHARED_FACES, 'people/obama/2.jpg')),
  });
  try {
    // Warm-up outside the measurement: onnxruntime allocates on its first runs.
    await runBench({ identity: real.identity, eventId: real.eventId, imageUrl: real.imageUrl, apiConfig: { imageAllowList: [real.allowHost] }, concurrency: 1, durationMs: 1 });
    const result = await runBench({ identity: real.identity, eventId: real.eventId, imageUrl: real.imageUrl, apiConfig: { imageAllowList: [real.allowHost] }, ...run });
    console.log(o.json ? JSON.stringify({ service: 'real', ...result, activities: real.activities() }) : `${report('real pipeline', result)}; attendee now has ${real.activities()} activities`);
  } finally {
    await real.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
