// 1:N identification on real photos: enrolled people found, strangers unknown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRecognition, type Recognition } from '../../src/app/recognition.js';
import { enrollAttendee } from '../../src/enroll/enroll.js';
import { defaultConfig, identityPhotos, readPhoto } from '../fixtures.js';
import { SHARED_MODELS } from '../paths.js';

// People left out of the gallery: they play the strangers.
const STRANGERS = new Set(['leonard', 'rose_leslie', 'alex_lacamoire']);
let dir: string;
let rec: Recognition;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'identify-'));
  rec = await startRecognition(defaultConfig(), SHARED_MODELS, dir);
  rec.store.upsertEvent({ id: 'ev' });
});
after(async () => {
  await rec.stop();
  await rm(dir, { recursive: true, force: true });
});

test('enroll one photo per identity; every other photo is identified correctly; strangers are unknown', async () => {
  const photos = identityPhotos();
  const enrolled = new Set<string>();
  for (const p of photos) {
    if (STRANGERS.has(p.identity) || enrolled.has(p.identity)) continue;
    const r = await enrollAttendee(
      { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config: rec.config, embedderId: rec.embedderId },
      { eventId: 'ev', userId: p.identity, name: p.identity, photos: [{ label: p.name, data: readPhoto(p.path) }] },
    );
    assert.deepEqual(r.warnings, [], `${p.name} looks like someone already enrolled`);
    enrolled.add(p.identity);
  }
  assert.equal(enrolled.size, 13 - STRANGERS.size);
  const wrong: string[] = [];
  let known = 0, strangers = 0;
  for (const p of photos) {
    const first = !STRANGERS.has(p.identity) && photos.find((q) => q.identity === p.identity) === p;
    if (first) continue; // the enrolled photo itself
    const r = await rec.recognizer.identify('ev', readPhoto(p.path));
    if (STRANGERS.has(p.identity)) {
      strangers++;
      if (r.decision !== 'unknown') wrong.push(`${p.name}: stranger got ${r.decision} ${r.match?.userId}`);
    } else {
      known++;
      if (r.decision !== 'match' || r.match?.userId !== p.identity) wrong.push(`${p.name}: ${r.decision} ${r.reason} ${r.match?.userId ?? r.secondBest?.userId}`);
    }
  }
  assert.deepEqual(wrong, []);
  assert.equal(strangers, 5 + 2 + 2);
  assert.equal(known, photos.length - strangers - enrolled.size);
});

test('with several photos, an attendee is one fused template (identification.templates: fused); the gallery follows enrollments and removals', async () => {
  rec.store.upsertEvent({ id: 'multi' });
  const deps = { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config: rec.config, embedderId: rec.embedderId };
  const p = identityPhotos().filter((x) => x.identity === 'obama');
  const probe = readPhoto(p[5]!.path);
  await enrollAttendee(deps, { eventId: 'multi', userId: 'obama', photos: [{ label: 'a', data: readPhoto(p[0]!.path) }] });
  const one = await rec.recognizer.identify('multi', probe);
  await enrollAttendee(deps, { eventId: 'multi', userId: 'obama', photos: [{ label: 'b', data: readPhoto(p[2]!.path) }, { label: 'c', data: readPhoto(p[3]!.path) }] });
  const three = await rec.recognizer.identify('multi', probe);
  assert.equal(one.match?.userId, 'obama');
  assert.equal(three.match?.userId, 'obama');
  // the template moved: three photos fused score differently from the first alone
  assert.notEqual(three.match!.similarity, one.match!.similarity);
  assert.equal(rec.store.listAttendees('multi')[0]!.embeddings, 3);
  assert.equal((await rec.galleries.get('multi')).size, 1, 'one fused column for the attendee');
  rec.store.removeAttendee('multi', 'obama');
  await new Promise((r) => setImmediate(r));
  assert.equal((await rec.galleries.get('multi')).size, 0);
  assert.equal((await rec.recognizer.identify('multi', probe)).decision, 'unknown');
});

test('enrollment refuses unusable photos with the reason and writes nothing', async () => {
  rec.store.upsertEvent({ id: 'bad' });
  const deps = { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config: rec.config, embedderId: rec.embedderId };
  const good = readPhoto(identityPhotos()[0]!.path);
  const { SHARED_FACES } = await import('../paths.js');
  await assert.rejects(
    enrollAttendee(deps, {
      eventId: 'bad',
      userId: 'u1',
      photos: [
        { label: 'good.png', data: good },
        { label: 'white.png', data: readPhoto(join(SHARED_FACES, 'white.png')) },
        { label: 'group.jpg', data: readPhoto(join(SHARED_FACES, 'people/groups/two_people.jpg')) },
        { label: 'empty.jpg', data: Buffer.alloc(0) },
      ],
    }),
    (e: Error & { problems?: string[] }) => {
      assert.deepEqual(e.problems, [
        'white.png: no face found; use a photo where the face is clearly visible',
        'group.jpg: 2 faces; use a photo showing only this attendee',
        'empty.jpg: file is empty (0 bytes); capture or copy the image again',
      ]);
      return true;
    },
  );
  assert.equal(rec.store.hasAttendee('bad', 'u1'), false);
  // A small face is refused for size, with what to do
  const small = await enrollAttendee({ ...deps, config: { ...rec.config, quality: { ...rec.config.quality, minInterEyePx: 500 } } }, { eventId: 'bad', userId: 'u2', photos: [{ label: 'far.png', data: good }] }).catch((e: Error) => e);
  assert.match(String(small), /face too small .* need 500\); come closer or use a larger photo/);
});

test('enrolling the same face under a second user id warns of a duplicate', async () => {
  rec.store.upsertEvent({ id: 'dup' });
  const deps = { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config: rec.config, embedderId: rec.embedderId };
  const p = identityPhotos().filter((x) => x.identity === 'biden');
  await enrollAttendee(deps, { eventId: 'dup', userId: 'biden', photos: [{ label: '1', data: readPhoto(p[0]!.path) }] });
  const r = await enrollAttendee(deps, { eventId: 'dup', userId: 'joe2', photos: [{ label: '2', data: readPhoto(p[1]!.path) }] });
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!, /already looks like attendee biden \(similarity 0\.\d\d\); check this is not a duplicate enrollment/);
});
