// syncEvent/syncAll against the loopback central server and a real SQLite file:
import '../api/quiet-logs.js';
// full and incremental sync, tombstones, 304, model change, and every failure
// leaving whole pages only, resumed by the next run from the last applied page.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { syncAll, syncEvent, SyncFailure, type SyncResult } from '../../src/sync/sync.js';
import type { Fault } from './central-server.js';
import { fakeVector, makeSession } from './central-server.js';
import { addAttendee, MODEL, range, storedCursor, syncOpts, testClient, testServer, testStore, uid, userIds } from './helpers.js';

const OTHER_MODEL = 'arcface_mbf_w600k';

async function failing(p: Promise<SyncResult>): Promise<SyncResult> {
  const err = await p.then(
    () => assert.fail('sync should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SyncFailure, `expected SyncFailure, got ${String(err)}`);
  return err.result;
}

void describe('sync: happy paths', () => {
  void it('full sync downloads every page into the store, sessions sealed, cursor and state recorded', async (t) => {
    const server = await testServer(t, 12);
    const { store } = await testStore(t);
    const r = await syncEvent(syncOpts(store, testClient(server), { purgeGraceHours: 24 }));
    assert.equal(r.error, null);
    assert.deepEqual([r.pages, r.upserts, r.deletions, r.notUsable, r.attendees], [3, 12, 0, 0, 12]);
    assert.deepEqual(userIds(store), range(1, 12));
    assert.equal(store.countEmbeddings('evt_test', MODEL), 12);
    assert.deepEqual(store.getSession('evt_test', uid(7)), makeSession(uid(7)));
    // KYC is sealed with the store key, not stored as text.
    const raw = store.db.prepare('SELECT kyc FROM attendees WHERE user_id = ?').get(uid(7)) as { kyc: Buffer };
    assert.ok(!raw.kyc.toString('latin1').includes(`DL-${uid(7)}`));
    const v = [...store.iterateEmbeddings('evt_test', MODEL)].find((e) => e.userId === uid(7))!.vector;
    assert.ok(Math.abs(v[3]! - fakeVector(7)[3]!) < 1e-6);
    const ev = store.getEvent('evt_test')!;
    assert.equal(ev.name, 'Test Event');
    assert.equal(ev.endsAt, Date.parse(server.event.endsAt!));
    assert.equal(ev.purgeAfter, ev.endsAt! + 24 * 3_600_000);
    const st = store.getSyncState('evt_test');
    assert.equal(st.cursor, server.headCursor());
    assert.equal(st.modelId, MODEL);
    assert.equal(st.lastError, null);
    assert.ok(st.lastSuccessAt !== null && st.lastAttemptAt !== null);
    assert.deepEqual(server.requests.map((q) => [q.cursor, q.limit, q.model, q.apiKey === server.apiKey]), [
      [null, 5, MODEL, true],
      [server.served[0]!.nextCursor, 5, MODEL, true],
      [server.served[1]!.nextCursor, 5, MODEL, true],
    ]);
  });

  void it('incremental sync fetches only changes since the cursor: updates, new attendees, tombstones', async (t) => {
    const server = await testServer(t, 8);
    const { store } = await testStore(t);
    const client = testClient(server);
    await syncEvent(syncOpts(store, client));
    const cursor = storedCursor(store);
    server.put(uid(3), { session: makeSession(uid(3), 'Renamed Three'), embeddings: [{ modelId: MODEL, vector: fakeVector(333) }] });
    server.remove(uid(5));
    addAttendee(server, 9);
    const before = server.requests.length;
    const r = await syncEvent(syncOpts(store, client));
    assert.equal(server.requests[before]!.cursor, cursor, 'the second run starts from the stored cursor');
    assert.deepEqual([r.pages, r.upserts, r.deletions], [1, 2, 1]);
    assert.deepEqual(userIds(store), [...range(1, 4), ...range(6, 9)]);
    assert.equal(store.getSession('evt_test', uid(3))!.userInfo.name, 'Renamed Three');
    const n = store.db.prepare('SELECT COUNT(*) AS n FROM embeddings WHERE user_id = ?');
    assert.equal((n.get(uid(5)) as { n: number }).n, 0, 'a tombstone removes the embeddings too');
    assert.equal((n.get(uid(3)) as { n: number }).n, 1, 'the changed attendee\'s embeddings are replaced, not added to');
  });

  void it('nothing new: the repeated request is answered 304 and the cache and cursor stay as they are', async (t) => {
    const server = await testServer(t, 3);
    const { store } = await testStore(t);
    const client = testClient(server);
    await syncEvent(syncOpts(store, client));
    await syncEvent(syncOpts(store, client)); // an empty page after the head, with an ETag
    const cursor = storedCursor(store);
    const r = await syncEvent(syncOpts(store, client));
    assert.equal(server.requests.at(-1)!.status, 304);
    assert.equal(r.pages, 0);
    assert.equal(storedCursor(store), cursor);
    assert.deepEqual(userIds(store), range(1, 3));
  });

  void it('a model change restarts from an empty cursor, fetches the new model and drops attendees the snapshot lacks', async (t) => {
    const server = await testServer(t);
    for (let i = 1; i <= 7; i++) {
      server.put(uid(i), { session: makeSession(uid(i)), embeddings: [{ modelId: MODEL, vector: fakeVector(i) }, { modelId: OTHER_MODEL, vector: fakeVector(100 + i) }] });
    }
    const { store } = await testStore(t);
    const client = testClient(server);
    await syncEvent(syncOpts(store, client));
    assert.equal(store.countEmbeddings('evt_test', OTHER_MODEL), 0, 'only the asked model is sent');
    // Deleted on the server so long ago that its tombstone is gone too: only the
    // snapshot's sweep can remove it.
    server.forget(uid(2));
    // Enrolled at this gate, unknown to the server: the sweep must keep it.
    store.upsertAttendee('evt_test', makeSession('walkup'));
    store.addEmbedding('evt_test', 'walkup', { vector: fakeVector(999), modelId: MODEL, quality: 1, source: 'enroll' });
    const before = server.requests.length;
    const r = await syncEvent(syncOpts(store, client, { modelId: OTHER_MODEL }));
    assert.equal(r.restartedForModel, true);
    assert.equal(server.requests[before]!.cursor, null);
    assert.equal(server.requests[before]!.model, OTHER_MODEL);
    assert.equal(r.removedStale, 1);
    assert.deepEqual(userIds(store), [...range(1, 1), ...range(3, 7), 'walkup']);
    assert.equal(store.countEmbeddings('evt_test', OTHER_MODEL), 6);
    assert.equal(store.getSyncState('evt_test').modelId, OTHER_MODEL);
    assert.deepEqual(r.notUsable, 1, 'only the walk-up lacks the new model');
    // The next run with the same model is incremental again.
    const next = server.requests.length;
    await syncEvent(syncOpts(store, client, { modelId: OTHER_MODEL }));
    assert.notEqual(server.requests[next]!.cursor, null);
  });

  void it('an expired cursor (HTTP 410) restarts the event from a snapshot and removes attendees it lacks', async (t) => {
    const server = await testServer(t, 7);
    const { store } = await testStore(t);
    const client = testClient(server);
    await syncEvent(syncOpts(store, client));
    server.forget(uid(4));
    addAttendee(server, 8);
    const before = server.requests.length;
    const r = await syncEvent(syncOpts(store, client));
    assert.deepEqual(server.requests.slice(before, before + 2).map((q) => [q.status, q.cursor === null]), [[410, false], [200, true]]);
    assert.equal(r.restartedExpired, true);
    assert.equal(r.removedStale, 1);
    assert.deepEqual(userIds(store), [...range(1, 3), ...range(5, 8)]);
    assert.equal(store.getSyncState('evt_test').cursor, server.headCursor());
  });

  void it('a transient HTTP 500 is retried within the run and the sync completes', async (t) => {
    const server = await testServer(t, 12);
    server.fault = (q) => (q.n === 2 ? { kind: 'status', status: 500 } : undefined);
    const { store } = await testStore(t);
    const r = await syncEvent(syncOpts(store, testClient(server)));
    assert.equal(r.error, null);
    assert.deepEqual(userIds(store), range(1, 12));
    assert.equal(store.getSyncState('evt_test').lastError, null);
  });
});

interface FailureCase {
  name: string;
  fault: Fault;
  message: RegExp;
  /** Requests the run makes for the failing page: 2 when retried once (maxRetries 1), 1 when not retryable. */
  attempts: number;
  timeoutMs?: number;
}

const failures: FailureCase[] = [
  { name: 'connection reset mid-page', fault: { kind: 'reset' }, message: /connection to the central server .* was cut while the page was arriving \(ECONNRESET\).*gave up after 2/, attempts: 2 },
  { name: 'HTTP 500 on page 3', fault: { kind: 'status', status: 500 }, message: /answered HTTP 500: injected HTTP 500.*gave up after 2 attempt/, attempts: 2 },
  { name: 'malformed JSON', fault: { kind: 'malformed' }, message: /sent a page for event "evt_test" that is not valid JSON/, attempts: 1 },
  {
    name: 'unknown model id',
    fault: {
      kind: 'mutate',
      fn: (b) => {
        (b.items[2]!.embeddings as { modelId: string }[])[0]!.modelId = 'facenet_512';
      },
    },
    message: /invalid page for event "evt_test": items\[2\] \(userId "u0013"\): embeddings\[0\] has unknown model id "facenet_512"/,
    attempts: 1,
  },
  { name: 'slow server beyond the timeout', fault: { kind: 'hang' }, message: /did not send a whole page within 300 ms/, attempts: 2, timeoutMs: 300 },
];

void describe('sync: a failure on page 3 leaves pages 1-2 applied and the next run resumes after page 2', () => {
  for (const f of failures) {
    void it(f.name, async (t) => {
      const server = await testServer(t, 20);
      const { store } = await testStore(t);
      const client = testClient(server, f.timeoutMs ? { requestTimeoutMs: f.timeoutMs } : {});
      server.fault = (q) => (q.n >= 3 ? f.fault : undefined);
      const r = await failing(syncEvent(syncOpts(store, client)));
      assert.match(r.error ?? '', f.message);
      assert.equal(r.pages, 2);
      assert.deepEqual(userIds(store), range(1, 10), 'exactly the attendees of pages 1 and 2');
      assert.equal(store.countEmbeddings('evt_test', MODEL), 10);
      const lastApplied = server.served[1]!.nextCursor;
      assert.equal(storedCursor(store), lastApplied);
      assert.equal(server.requests.filter((q) => q.cursor === lastApplied).length, f.attempts);
      const st = store.getSyncState('evt_test');
      assert.equal(st.lastError, r.error);
      assert.equal(st.lastSuccessAt, null);
      assert.equal((store.db.pragma('integrity_check', { simple: true }) as string), 'ok');

      server.fault = null;
      const before = server.requests.length;
      const again = await syncEvent(syncOpts(store, client));
      assert.equal(server.requests[before]!.cursor, lastApplied, 'the re-run asks for the page after the last applied one');
      assert.deepEqual([again.pages, again.upserts], [2, 10]);
      assert.deepEqual(userIds(store), range(1, 20));
      assert.equal(store.getSyncState('evt_test').lastError, null);
    });
  }

  void it('a refused API key fails at once with a clear message that does not contain the key', async (t) => {
    const server = await testServer(t, 3);
    const { store } = await testStore(t);
    const r = await failing(syncEvent(syncOpts(store, testClient(server, { apiKey: 'wrong-secret-key' }))));
    assert.match(r.error!, /refused the API key \(HTTP 401: invalid API key\); check GATE_AGENT_SYNC_API_KEY/);
    assert.ok(!r.error!.includes('wrong-secret-key'));
    assert.equal(server.requests.length, 1, 'not retried');
    assert.deepEqual(userIds(store), []);
  });

  void it('a page over maxPageBytes is refused before it is parsed', async (t) => {
    const server = await testServer(t, 10);
    const { store } = await testStore(t);
    const r = await failing(syncEvent(syncOpts(store, testClient(server, { maxPageBytes: 4096 }))));
    assert.match(r.error!, /sent a page larger than 4096 bytes \(sync.maxPageBytes\); lower sync.pageSize/);
    assert.deepEqual(userIds(store), []);
  });
});

void describe('syncAll', () => {
  void it('syncs every cached event, reports a failing one without stopping, skips purged events', async (t) => {
    const server = await testServer(t, 4);
    const { store } = await testStore(t);
    store.upsertEvent({ id: 'evt_test' });
    store.upsertEvent({ id: 'evt_unknown' });
    store.upsertEvent({ id: 'evt_over', purgeAfter: Date.now() - 1000 });
    const results = await syncAll(syncOpts(store, testClient(server)));
    const by = new Map(results.map((r) => [r.eventId, r]));
    assert.equal(by.get('evt_test')!.error, null);
    assert.equal(by.get('evt_test')!.upserts, 4);
    assert.match(by.get('evt_unknown')!.error!, /does not know event "evt_unknown" \(HTTP 404/);
    assert.match(by.get('evt_over')!.skipped!, /purged/);
    assert.deepEqual([...new Set(server.requests.map((q) => q.eventId))], ['evt_test', 'evt_unknown'], 'the purged event is never asked for');
    assert.equal(store.getSyncState('evt_unknown').lastError, by.get('evt_unknown')!.error);
  });
});
