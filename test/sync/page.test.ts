// parsePage: every rule that keeps a bad page out of the store, checked directly.
import '../api/quiet-logs.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeVector, encodeVector, parsePage, SyncError, type PageContext } from '../../src/sync/page.js';
import { fakeVector, makeSession } from './central-server.js';
import { MODEL } from './helpers.js';

const ctx: PageContext = { eventId: 'evt_a', modelId: MODEL, baseUrl: new URL('https://central.example/api/') };
// A start a year from now, to the second, as the central server would send it.
const event = { id: 'evt_a', name: 'A', startsAt: new Date(Math.floor(Date.now() / 1000) * 1000 + 365 * 86_400_000).toISOString(), endsAt: null };
const item = (userId: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  userId,
  session: makeSession(userId),
  embeddings: [{ modelId: MODEL, vector: encodeVector(fakeVector(1)), quality: 0.8 }],
  ...extra,
});
const page = (items: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({ event, items, nextCursor: 'c2', hasMore: false, ...extra });

function rejects(body: unknown, message: RegExp): void {
  assert.throws(() => parsePage(body, ctx), (err: unknown) => {
    assert.ok(err instanceof SyncError);
    assert.equal(err.retryable, false);
    assert.match(err.message, /^central server sent an invalid page for event "evt_a": /);
    assert.match(err.message, message);
    return true;
  });
}

void describe('parsePage', () => {
  void it('accepts a page of upserts and tombstones and decodes vectors', () => {
    const p = parsePage(page([item('u1'), { userId: 'u2', deleted: true }], { remaining: 7 }), ctx);
    assert.deepEqual(p.event, { id: 'evt_a', name: 'A', startsAt: Date.parse(event.startsAt), endsAt: null });
    assert.equal(p.remaining, 7);
    const [a, b] = p.items;
    assert.ok(a && !a.deleted);
    assert.equal(a.embeddings[0]!.quality, 0.8);
    assert.ok(Math.abs(a.embeddings[0]!.vector[10]! - fakeVector(1)[10]!) < 1e-6);
    assert.deepEqual(b, { userId: 'u2', deleted: true });
  });

  void it('accepts embeddings of another embedder from the manifest', () => {
    const p = parsePage(page([item('u1', { embeddings: [{ modelId: 'arcface_mbf_w600k', vector: encodeVector(fakeVector(2)) }] })]), ctx);
    assert.equal((p.items[0] as { embeddings: { modelId: string }[] }).embeddings[0]!.modelId, 'arcface_mbf_w600k');
  });

  void it('resolves a relative photo URL against the base URL and refuses other schemes', () => {
    const p = parsePage(page([item('u1', { embeddings: undefined, photoUrl: 'photos/u1.jpg' })]), ctx);
    assert.equal((p.items[0] as { photoUrl: URL }).photoUrl.href, 'https://central.example/api/photos/u1.jpg');
    rejects(page([item('u1', { photoUrl: 'file:///etc/passwd' })]), /items\[0\] \(userId "u1"\): photoUrl must be http or https, not file:/);
  });

  void it('refuses an unknown model id, naming the model the gate uses', () => {
    rejects(page([item('u1'), item('u2', { embeddings: [{ modelId: 'facenet_512', vector: encodeVector(fakeVector(3)) }] })]), /items\[1\] \(userId "u2"\): embeddings\[0\] has unknown model id "facenet_512"; this gate embeds with "arcface_mbf_w600k_int8"/);
    // A detector is in the manifest but makes no embeddings.
    rejects(page([item('u1', { embeddings: [{ modelId: 'scrfd_500m_kps', vector: encodeVector(fakeVector(3)) }] })]), /unknown model id "scrfd_500m_kps"/);
  });

  void it('refuses vectors of the wrong length, bad base64 and non-finite values', () => {
    rejects(page([item('u1', { embeddings: [{ modelId: MODEL, vector: encodeVector(new Float32Array(128).fill(0.1)) }] })]), /embeddings\[0\] \(arcface_mbf_w600k_int8\): vector has 128 values, the model makes 512/);
    rejects(page([item('u1', { embeddings: [{ modelId: MODEL, vector: 'not base64!' }] })]), /vector must be a base64 string/);
    const nan = fakeVector(1);
    nan[5] = NaN;
    rejects(page([item('u1', { embeddings: [{ modelId: MODEL, vector: encodeVector(nan) }] })]), /vector value 5 is not a finite number/);
    assert.equal(decodeVector(encodeVector(new Float32Array(512)), 512), 'vector is all zeros');
  });

  void it('refuses sessions that fail the contract and userIds that do not match', () => {
    const s = makeSession('u1') as unknown as Record<string, unknown>;
    delete s.kyc;
    (s.userInfo as Record<string, unknown>).email = 5;
    rejects(page([item('u1', { session: s })]), /items\[0\] \(userId "u1"\): session: userInfo.email must be a string; kyc must be an array/);
    rejects(page([item('u1', { session: makeSession('u9') })]), /session.userInfo.userId is "u9", not the item's userId/);
    rejects(page([item('u1'), item('u1')]), /items\[1\] \(userId "u1"\): the same userId appears twice/);
    rejects(page([{ userId: 'u1', deleted: false }]), /deleted must be true or absent/);
  });

  void it('refuses a page for another event or with a broken envelope', () => {
    rejects(page([], { event: { ...event, id: 'evt_b' } }), /event.id is "evt_b", but event "evt_a" was asked for/);
    rejects(page([], { event: { ...event, endsAt: 'tomorrow' } }), /event.endsAt must be an ISO 8601 time or null/);
    rejects(page([], { nextCursor: '' }), /nextCursor must be a non-empty string/);
    rejects(page([], { hasMore: 'no' }), /hasMore must be true or false/);
    rejects([], /the body must be a JSON object/);
  });
});
