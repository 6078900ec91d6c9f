// A flood of POST /identity requests that match nobody writes at most
// api.unmatchedRecordsPerMinute records a minute plus one summary, over the
// real LocalIdentityService, outbox, audit chain and SQLite; a match in the
// middle of it is always recorded. The recognizer is scripted (which outcome
// a request gets is the point here, not the face models), the clock injected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiServer } from '../../src/api/server.js';
import { createKey, SqliteApiKeyStore } from '../../src/api/keys.js';
import { LocalIdentityService } from '../../src/app/identity.js';
import type { IdentifyResult } from '../../src/match/recognizer.js';
import { Outbox } from '../../src/publish/outbox.js';
import { verifyAuditChain } from '../../src/publish/audit.js';
import { openStore } from '../../src/store/open.js';
import { localSession } from '../../src/store/session.js';
import { defaultConfig } from '../fixtures.js';
import { dataUrl, EVENT, request, testImage } from './helpers.js';
import { migrate } from '../../src/store/migrations.js';

const BUDGET = 5;
const timings = { decodeMs: 0, detectMs: 0, alignMs: 0, embedMs: 0, matchMs: 0 };
const noFace = { faces: 0, decision: 'no_face', reason: 'no_face', match: null, secondBest: null, face: null, timings, threshold: null } as unknown as IdentifyResult;
const match = {
  faces: 1,
  decision: 'match',
  reason: 'matched',
  match: { userId: 'usr_1', name: 'Ada', similarity: 0.8 },
  secondBest: null,
  face: null,
  timings,
  threshold: 0.4,
} as unknown as IdentifyResult;

void test('a flood of no-face requests writes at most the budget plus one summary a minute; a match in it is recorded', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gate-api-flood-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = openStore(defaultConfig(), dir);
  t.after(() => store.db.close());
  migrate(store.db);
  const { key } = createKey(store.db, 'flooder');
  store.upsertEvent({ id: EVENT });
  store.upsertAttendee(EVENT, localSession('usr_1', { name: 'Ada' }));
  let nowMs = 1_000_000;
  const outbox = new Outbox(store.db, { identity: { gateId: 'g1', siteId: 's1', eventId: '', modelId: 'm' }, maxMessages: 100_000, now: () => nowMs });
  let next: IdentifyResult = noFace;
  const identity = new LocalIdentityService({
    store,
    outbox,
    recognizer: { identify: async () => structuredClone(next) },
    now: () => nowMs,
    unmatchedRecordsPerMinute: BUDGET,
  });
  const server = createApiServer({
    identity,
    keys: new SqliteApiKeyStore(store.db),
    config: { rateLimitPerIpBurst: 10_000, rateLimitPerKeyBurst: 10_000, rateLimitTotalBurst: 10_000 },
  });
  const { port } = await server.listen('127.0.0.1', 0);
  t.after(() => server.close());
  const image = dataUrl(await testImage('png'));
  const post = () => request(port, `/identity?${new URLSearchParams({ event_id: EVENT, image_url: image }).toString()}`, { method: 'POST', headers: { 'x-api-key': key } });
  const count = (sql: string): number => (store.db.prepare(sql).get() as { n: number }).n;
  const sessions = () => count("SELECT COUNT(*) AS n FROM outbox WHERE topic = 'sessions'");
  const audits = () => count('SELECT COUNT(*) AS n FROM audit');
  const summaries = () =>
    (store.db.prepare("SELECT payload FROM outbox WHERE topic = 'events'").all() as { payload: string }[])
      .map((r) => JSON.parse(r.payload) as { type: string; detail: { count: number; byReason: Record<string, number>; audit: { seq: number } } })
      .filter((e) => e.type === 'identity_api_summary');

  // Minute 1: 20 faceless images, a match, 20 more. Every one is answered as usual.
  for (let i = 0; i < 20; i++) assert.equal((await post()).status, 422);
  next = match;
  const granted = await post();
  assert.equal(granted.status, 200, granted.text);
  next = noFace;
  for (let i = 0; i < 20; i++) assert.equal((await post()).status, 422);
  assert.equal(sessions(), BUDGET + 1, 'the budget of no-face results, and the match');
  assert.equal(audits(), BUDGET + 1);
  const grantedRow = store.db.prepare("SELECT payload FROM outbox WHERE topic = 'sessions' AND payload LIKE '%\"granted\"%'").all();
  assert.equal(grantedRow.length, 1, 'the match in the middle of the flood is recorded');
  assert.equal(summaries().length, 0, 'the summary waits for the minute to end');

  // Minute 2: the first request writes minute 1's summary and is recorded itself.
  nowMs += 60_000;
  assert.equal((await post()).status, 422);
  const [first] = summaries();
  assert.equal(summaries().length, 1);
  assert.equal(first!.detail.count, 40 - BUDGET);
  assert.deepStrictEqual(first!.detail.byReason, { identity_api_no_face: 40 - BUDGET });
  assert.equal(sessions(), BUDGET + 2);
  assert.equal(audits(), BUDGET + 2 + 1, 'the summary is in the audit chain too');

  // The rest of minute 2, then shutdown: its count is written, not lost.
  for (let i = 0; i < 10; i++) assert.equal((await post()).status, 422);
  identity.flushSummary(true);
  assert.equal(summaries().length, 2);
  assert.equal(summaries()[1]!.detail.count, 10 + 1 - BUDGET);
  assert.equal(sessions(), 2 * BUDGET + 1, 'over two minutes of flood: twice the budget, plus the match');
  assert.equal(verifyAuditChain(store.db).ok, true);
});
