// Shared fixtures for the API tests: a real server on 127.0.0.1 with a real
// SQLite key file, a scriptable fake IdentityService, a plain HTTP client and
// loopback image servers. Every helper registers its own cleanup on the test.
import './quiet-logs.js';
import { spawn } from 'node:child_process';
import http, { type IncomingHttpHeaders, type RequestListener } from 'node:http';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { pino, type Logger } from 'pino';
import sharp from 'sharp';
import { createApiServer, type ApiServerOptions } from '../../src/api/server.js';
import { createKey, SqliteApiKeyStore } from '../../src/api/keys.js';
import type { IdentifyContext, IdentifyOutcome, IdentityService } from '../../src/api/identity-service.js';
import type { ConnectTarget } from '../../src/api/fetch-image.js';
import { specSession } from './fixtures/spec-session.js';
import { own, until } from '../proc.js';
import { migrate } from '../../src/store/migrations.js';

export const EVENT = 'evt_spring_gala';

export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gate-api-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export class FakeIdentity implements IdentityService {
  readonly events = new Set([EVENT]);
  readonly calls: { eventId: string; image: Buffer; ctx: IdentifyContext }[] = [];
  outcome: () => Promise<IdentifyOutcome> = async () => ({ kind: 'match', session: structuredClone(specSession) });

  hasEvent(eventId: string): boolean {
    return this.events.has(eventId);
  }

  async identify(eventId: string, image: Buffer, ctx: IdentifyContext): Promise<IdentifyOutcome> {
    this.calls.push({ eventId, image, ctx });
    return this.outcome();
  }
}

export interface Api {
  port: number;
  key: string;
  db: Database.Database;
  dir: string;
  identity: FakeIdentity;
  connects: ConnectTarget[];
  /** The API's log lines (level info and up), parsed. */
  logs: LogLine[];
  /** Send a request to the API; parses JSON bodies. */
  req(path: string, init?: RequestInit): Promise<Reply>;
  /** POST /identity with the test key and the given query parameters. */
  identify(params: Record<string, string>, headers?: Record<string, string>): Promise<Reply>;
}

export interface RequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: unknown;
}

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A logger that keeps its lines in memory, for asserting what the log says. */
export function memoryLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}

export type ApiOverrides = Omit<Partial<ApiServerOptions>, 'identity' | 'keys'>;

export async function startApi(t: TestContext, overrides: ApiOverrides = {}): Promise<Api> {
  const dir = await tempDir(t);
  const db = new Database(join(dir, 'agent.db'));
  t.after(() => db.close());
  migrate(db);
  const { key } = createKey(db, 'test-client');
  const identity = new FakeIdentity();
  const connects: ConnectTarget[] = [];
  const memory = memoryLogger();
  const server = createApiServer({
    identity,
    keys: new SqliteApiKeyStore(db),
    onConnect: (target) => connects.push(target),
    log: memory.log,
    ...overrides,
    config: { rateLimitPerIpBurst: 1000, rateLimitPerKeyBurst: 1000, rateLimitTotalBurst: 1000, ...overrides.config },
  });
  const { port } = await server.listen('127.0.0.1', 0);
  t.after(() => server.close());
  const api: Api = {
    port,
    key,
    db,
    dir,
    identity,
    connects,
    logs: memory.lines,
    req: (path, init) => request(port, path, init),
    identify: (params, headers = {}) =>
      request(port, `/identity?${new URLSearchParams(params).toString()}`, { method: 'POST', headers: { 'x-api-key': key, ...headers } }),
  };
  return api;
}

export function request(port: number, path: string, init: RequestInit = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = undefined;
        try {
          json = JSON.parse(text);
        } catch {
          // not JSON; tests that expect JSON assert on `json`
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** The `detail` of an error reply, failing the test when the body is not {"detail": string}. */
export function detailOf(r: Reply): string {
  const body = r.json as { detail?: unknown } | undefined;
  if (!body || typeof body.detail !== 'string' || Object.keys(body).length !== 1) {
    throw new Error(`expected {"detail": string}, got ${r.status} ${r.text.slice(0, 200)}`);
  }
  return body.detail;
}

export interface ImageServer {
  port: number;
  url: (path?: string) => string;
  /** Connections accepted so far. */
  connections: number;
  requests: { url: string; host: string | undefined }[];
}

/** A loopback HTTP server; `handler` defaults to serving `png`. */
export async function imageServer(t: TestContext, handler?: RequestListener, host = '127.0.0.1'): Promise<ImageServer> {
  const png = await testImage('png');
  const info: ImageServer = { port: 0, url: () => '', connections: 0, requests: [] };
  const server = http.createServer((req, res) => {
    info.requests.push({ url: req.url ?? '', host: req.headers.host });
    if (handler) return handler(req, res);
    res.writeHead(200, { 'content-type': 'image/png' }).end(png);
  });
  server.on('connection', () => {
    info.connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  info.port = (server.address() as AddressInfo).port;
  info.url = (path = '/face.png') => `http://${host}:${info.port}${path}`;
  return info;
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const images = new Map<string, Promise<Buffer>>();

/** A real 16x16 image of the given format, made by sharp. */
export function testImage(kind: 'png' | 'jpeg' | 'webp'): Promise<Buffer> {
  let p = images.get(kind);
  if (!p) {
    p = sharp({ create: { width: 16, height: 16, channels: 3, background: '#7f7f7f' } })
      .toFormat(kind)
      .toBuffer();
    images.set(kind, p);
  }
  return p;
}

export function dataUrl(bytes: Buffer, mime = 'image/png'): string {
  return `data:${mime};base64,${bytes.toString('base64')}`;
}

/** The one answer for a host the gate could not fetch from, whatever the reason (fetch-image.ts unusableHost). */
export const UNUSABLE_HOST =
  /is not a host the gate could fetch from \(not a public host or an allow-listed device, a name that does not resolve, or no image within \d+ ms\); check the host in image_url, serve the image from a public host, or ask the gate operator to allow-list the device and check that it is up$/;

/**
 * A loopback port that drops connection attempts, as a firewall's filtered port does: a
 * listener in a child process that is stopped (SIGSTOP) and so never accepts, with a
 * backlog of 0 filled up; the kernel then drops further SYNs and a connect hangs.
 */
export async function filteredPort(t: TestContext): Promise<{ port: number }> {
  const child = own(
    spawn(process.execPath, ['-e', "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'inherit'] }),
    t,
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const port = await until('the listener to print its port', () => (/^(\d+)\n/.exec(out) ? Number(/^(\d+)\n/.exec(out)![1]) : undefined), 10_000);
  child.kill('SIGSTOP');
  const fillers: net.Socket[] = [];
  t.after(() => fillers.forEach((s) => s.destroy()));
  // Connect until one attempt gets no answer: the accept queue is full from then on.
  for (let i = 0; i < 16; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    fillers.push(s);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 300);
      s.once('connect', () => (clearTimeout(timer), resolve(true)));
    });
    if (!connected) return { port };
  }
  throw new Error('the stopped listener kept accepting connections; cannot make a filtered port here');
}

/** What a test that serves the real identity stack starts in `before()`; any part may be missing if `before()` failed. */
export interface ServedStack {
  service?: { close(): Promise<void> };
  rec?: { stop(): Promise<void> };
  photos?: http.Server;
  dir?: string;
}

/** Stops the API, then recognition, then the photo server, and removes the temp folder. */
export async function stopServedStack({ service, rec, photos, dir }: ServedStack): Promise<void> {
  await service?.close();
  await rec?.stop();
  photos?.closeAllConnections();
  await new Promise<void>((resolve) => (photos ? photos.close(() => resolve()) : resolve()));
  if (dir) await rm(dir, { recursive: true, force: true });
}
