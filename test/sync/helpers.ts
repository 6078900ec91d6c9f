// Shared pieces of the sync tests: a real SQLite store in a temp dir, a started
// central server, a client for it. Each helper registers its cleanup on the test.
import '../api/quiet-logs.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { AttendeeStore } from '../../src/store/attendees.js';
import { FieldCipher } from '../../src/store/crypto.js';
import { openDatabase } from '../../src/store/db.js';
import { HttpCentralClient, type HttpClientOptions } from '../../src/sync/client.js';
import type { SyncOptions } from '../../src/sync/sync.js';
import { CentralServer, fakeVector, makeSession } from './central-server.js';

export const MODEL = 'arcface_mbf_w600k_int8';
/** A fixed 256-bit key: the sync path must work with sealed columns. */
export const KEY = Buffer.alloc(32, 7);

export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gate-sync-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function openTestStore(dataDir: string): AttendeeStore {
  return new AttendeeStore(openDatabase(dataDir), new FieldCipher(KEY));
}

export async function testStore(t: TestContext): Promise<{ store: AttendeeStore; dataDir: string }> {
  const dataDir = await tempDir(t);
  const store = openTestStore(dataDir);
  t.after(() => store.db.close());
  return { store, dataDir };
}

/** A started server holding `n` attendees u0001..u<n>, each with one embedding of MODEL. */
export async function testServer(t: TestContext, n = 0): Promise<CentralServer> {
  const server = new CentralServer();
  for (let i = 1; i <= n; i++) addAttendee(server, i);
  await server.start();
  t.after(() => server.stop());
  return server;
}

export const uid = (i: number): string => `u${String(i).padStart(4, '0')}`;

export function addAttendee(server: CentralServer, i: number, modelId = MODEL): void {
  server.put(uid(i), { session: makeSession(uid(i)), embeddings: [{ modelId, vector: fakeVector(i), quality: 0.9 }] });
}

export function testClient(server: CentralServer, o: Partial<HttpClientOptions> = {}): HttpCentralClient {
  return new HttpCentralClient({ baseUrl: server.baseUrl, apiKey: server.apiKey, requestTimeoutMs: 5000, maxPageBytes: 8 * 1024 * 1024, ...o });
}

/** Options for syncEvent: retries without real waiting. */
export function syncOpts(store: AttendeeStore, client: HttpCentralClient, o: Partial<SyncOptions> = {}): SyncOptions & { eventId: string } {
  return { store, client, eventId: 'evt_test', modelId: MODEL, pageSize: 5, maxRetries: 1, retryBackoffMs: 1, sleep: async () => undefined, ...o };
}

export function userIds(store: AttendeeStore, eventId = 'evt_test'): string[] {
  return (store.db.prepare('SELECT user_id FROM attendees WHERE event_id = ? ORDER BY user_id').all(eventId) as { user_id: string }[]).map((r) => r.user_id);
}

export function storedCursor(store: AttendeeStore, eventId = 'evt_test'): string | null {
  return (store.db.prepare('SELECT cursor FROM sync_state WHERE event_id = ?').get(eventId) as { cursor: string | null } | undefined)?.cursor ?? null;
}

export const range = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, k) => uid(from + k));
