// Items that carry a photo URL instead of an embedding for this gate's model:
// the photos come from the loopback server, the REAL pipeline embeds them, and
// the attendees are then identifiable from another photo of the same person.
import '../api/quiet-logs.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipelineEmbedder } from '../../src/sync/photo.js';
import { photoFetcher } from '../../src/api/photo-fetcher.js';
import { syncEvent, SyncFailure } from '../../src/sync/sync.js';
import type { PipelineInfo } from '../../src/vision/factory.js';
import { defaultConfig, startPipeline } from '../fixtures.js';
import { SHARED_FACES } from '../paths.js';
import { makeSession } from './central-server.js';
import { addAttendee, storedCursor, syncOpts, testClient, testServer, testStore, userIds } from './helpers.js';

const PEOPLE = ['obama', 'biden', 'kit_harington', 'rose_leslie'] as const;
const photo = (who: string, n: number): Buffer => readFileSync(join(SHARED_FACES, 'people', who, `${n}.jpg`));
const cosine = (a: Float32Array, b: Float32Array): number => a.reduce((s, x, i) => s + x * b[i]!, 0);

void describe('sync: photo URLs embedded locally with the real pipeline', () => {
  let info: PipelineInfo;
  before(async () => {
    info = await startPipeline();
  });
  after(async () => {
    await info.pipeline.stop();
  });

  void it('embeds each photo; the attendee is then matched by another photo of the same person', async (t) => {
    const server = await testServer(t);
    for (const who of PEOPLE) {
      server.photos.set(`${who}.jpg`, photo(who, 1));
      server.put(who, { session: makeSession(who), photo: `${who}.jpg` });
    }
    server.photos.set('blank.png', readFileSync(join(SHARED_FACES, 'white.png')));
    server.put('blank', { session: makeSession('blank'), photo: 'blank.png' });
    server.put('gone', { session: makeSession('gone'), photo: 'missing.jpg' }); // answered 404
    addAttendee(server, 1); // has an embedding: its photo is not needed
    const { store } = await testStore(t);
    const r = await syncEvent(
      syncOpts(store, testClient(server), {
        modelId: info.embedderId,
        embedPhoto: pipelineEmbedder(info.pipeline, defaultConfig().quality),
        fetchPhoto: photoFetcher({ baseUrl: new URL(server.baseUrl), maxPhotoBytes: 5_000_000, requestTimeoutMs: 5000 }),
      }),
    );
    assert.equal(r.error, null);
    assert.equal(r.embeddedFromPhoto, PEOPLE.length);
    assert.equal(r.photoProblems, 2, 'the blank photo and the missing one');
    assert.deepEqual(store.attendeesWithoutModel('evt_test', info.embedderId), ['blank', 'gone']);
    assert.equal(userIds(store).length, PEOPLE.length + 3, 'attendees with unusable photos are still cached');
    assert.deepEqual(server.photoRequests.sort(), [...PEOPLE.map((p) => `${p}.jpg`), 'blank.png', 'missing.jpg'].sort());

    const gallery = [...store.iterateEmbeddings('evt_test', info.embedderId)];
    for (const who of PEOPLE) {
      const res = await info.pipeline.analyzeEncoded(photo(who, 2), { embed: true, maxEmbedFaces: 1 });
      const probe = res.faces[0]!.embedding!;
      const scores = gallery.map((g) => ({ userId: g.userId, score: cosine(probe, g.vector) })).sort((a, b) => b.score - a.score);
      assert.equal(scores[0]!.userId, who, `${who}/2.jpg is closest to ${who}'s synced embedding`);
      assert.ok(scores[0]!.score > 0.34, `${who}: cosine ${scores[0]!.score.toFixed(3)} is above the match threshold`);
    }
  });

  void it('a photo download failing for a passing reason (HTTP 503) fails the page and applies none of it', async (t) => {
    const server = await testServer(t, 3);
    server.photos.set('obama.jpg', photo('obama', 1));
    server.put('obama', { session: makeSession('obama'), photo: 'obama.jpg' });
    server.photoStatus = 503;
    const { store } = await testStore(t);
    const opts = syncOpts(store, testClient(server), {
      modelId: info.embedderId,
      embedPhoto: pipelineEmbedder(info.pipeline, defaultConfig().quality),
      fetchPhoto: photoFetcher({ baseUrl: new URL(server.baseUrl), maxPhotoBytes: 5_000_000, requestTimeoutMs: 5000 }),
    });
    const err = await syncEvent(opts).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof SyncFailure, `expected SyncFailure, got ${String(err)}`);
    assert.match(err.result.error!, /photo download failed: the image server .* answered HTTP 503/);
    assert.deepEqual(userIds(store), []);
    assert.equal(storedCursor(store), null);
    assert.equal(server.requests.length, 2, 'the retry asked for the page again (no 304 for a page never applied)');
    assert.ok(server.requests.every((q) => q.status === 200));
    server.photoStatus = null;
    const r = await syncEvent(opts);
    assert.equal(r.embeddedFromPhoto, 1);
    assert.deepEqual(store.attendeesWithoutModel('evt_test', info.embedderId), []);
  });
});
