// Throughput and latency of POST /identity over loopback: N concurrent
// keep-alive clients for a fixed time, reporting requests/s and p50/p95/p99.
// The IdentityService is injected (runBench) so the same harness measures the
// fake used today and the real face pipeline later.
//
//   npx tsc -p tsconfig.json && node dist/scripts/bench-api.js [--concurrency 8] [--duration-ms 5000] [--image face.jpg] [--json]
import '../test/api/quiet-logs.js';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { Command } from 'commander';
import sharp from 'sharp';
import { createApiServer } from '../src/api/server.js';
import { createKey, migrateApiKeys, SqliteApiKeyStore } from '../src/api/keys.js';
import type { IdentifyOutcome, IdentityService } from '../src/api/identity-service.js';
import { specSession } from '../test/api/fixtures/spec-session.js';

export interface BenchOptions {
  identity: IdentityService;
  eventId: string;
  /** Any image_url the server accepts; a data: URL keeps the network out of the measurement. */
  imageUrl: string;
  concurrency?: number;
  durationMs?: number;
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
  migrateApiKeys(db);
  const { key } = createKey(db, 'bench');
  // Rate limits off: the point is the server's own ceiling.
  const server = createApiServer({
    identity: opts.identity,
    keys: new SqliteApiKeyStore(db),
    config: { rateLimitPerKeyBurst: 1e9, rateLimitPerKeyPerSec: 1e9, rateLimitPerIpBurst: 1e9, rateLimitPerIpPerSec: 1e9 },
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

async function main(argv: string[]): Promise<void> {
  const cli = new Command('bench-api')
    .option('--concurrency <n>', 'concurrent clients', '8')
    .option('--duration-ms <ms>', 'how long to run', '5000')
    .option('--image <file>', 'image file to send as a data: URL (default: a generated 64x64 PNG)')
    .option('--json', 'print the result as JSON')
    .parse(argv);
  const o = cli.opts<{ concurrency: string; durationMs: string; image?: string; json?: boolean }>();
  const bytes = o.image
    ? readFileSync(o.image)
    : await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).png().toBuffer();
  const result = await runBench({
    identity: new StaticIdentity(),
    eventId: 'evt_bench',
    imageUrl: `data:image/png;base64,${bytes.toString('base64')}`,
    concurrency: Number(o.concurrency),
    durationMs: Number(o.durationMs),
  });
  if (o.json) console.log(JSON.stringify(result));
  else {
    console.log(
      `POST /identity, ${result.concurrency} clients, ${result.durationMs} ms: ${result.requests} requests, ${result.requestsPerSec} req/s, ` +
        `p50 ${result.p50Ms} ms, p95 ${result.p95Ms} ms, p99 ${result.p99Ms} ms, statuses ${JSON.stringify(result.statuses)}`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
