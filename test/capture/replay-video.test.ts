// The ffmpeg path for real: a clip made from a shared photo is replayed through ffmpeg,
// cut into JPEGs and decoded with sharp. v4l2 and rtsp use the same session code with
// other input arguments, so loss, stall and cleanup are proven here.
import './quiet-logs.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { createFrameSource, FrameSourceClosedError, looksLikeJpeg, type FrameSource, type LostEvent, type RestoredEvent } from '../../src/capture/index.js';
import { makeClip, standardPhotos } from './clips.js';
import { isAlive, livePidsMentioning, waitFor } from './helpers.js';

let dir = '';
let clip = '';
const FRAMES = 15;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'capture-replay-'));
  clip = join(dir, 'walk-up.mp4');
  await makeClip('walk-up', [standardPhotos.enrolled], clip, { durationS: 1, fps: 15 });
});

after(async () => {
  assert.deepEqual(await livePidsMentioning(dir), [], 'no ffmpeg left running on the test clip');
  await rm(dir, { recursive: true, force: true });
});

/** Starts the source and stops it (killing ffmpeg) whatever the test does. */
async function using(src: FrameSource, fn: (src: FrameSource) => Promise<void>): Promise<void> {
  try {
    await src.start();
    await fn(src);
  } finally {
    await src.stop();
  }
}

void test('a video replays as whole JPEG frames of the clip size, then ends', { timeout: 15_000 }, async () => {
  const src = createFrameSource({ kind: 'replay', path: clip, realtime: false });
  let ended = false;
  src.on('ended', () => (ended = true));
  await using(src, async () => {
    const first = await src.next();
    assert.ok(looksLikeJpeg(first.data));
    const meta = await sharp(first.data).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 640, 480]);
    assert.equal(first.sourceId, 'replay:walk-up.mp4');
    await waitFor('end of replay', () => ended);
    const st = src.status();
    assert.equal(st.state, 'ended');
    assert.equal(st.framesReceived, FRAMES, 'every frame of the clip, none split or merged');
    assert.equal(st.restarts, 0);
    // The last frame stays takeable; after it, next() says the source has ended.
    const last = await src.next();
    assert.equal(last.seq, FRAMES);
    const lastMeta = await sharp(last.data).stats();
    assert.ok(lastMeta.channels.length >= 3);
    await assert.rejects(src.next(), (e: unknown) => e instanceof FrameSourceClosedError && e.reason === 'ended');
  });
});

void test('the newest frame wins: a slow consumer sees increasing seq with gaps, and nothing queues', { timeout: 15_000 }, async () => {
  const src = createFrameSource({ kind: 'replay', path: clip, loop: true, realtime: true });
  await using(src, async () => {
    const seqs: number[] = [];
    for (let i = 0; i < 5; i++) {
      seqs.push((await src.next()).seq);
      await new Promise((r) => setTimeout(r, 250)); // "vision" takes 250 ms; the camera gives 15 fps
    }
    // ~3.75 frames arrive per 250 ms; a loaded 2-core box may hiccup once, so the gaps
    // are checked together: strictly increasing, and at least 2 apart on average.
    for (let i = 1; i < seqs.length; i++) assert.ok((seqs[i] as number) > (seqs[i - 1] as number), `seqs ${seqs.join(',')}`);
    assert.ok((seqs[4] as number) - (seqs[0] as number) >= 8, `seqs ${seqs.join(',')} show too few skipped frames`);
    const st = src.status();
    assert.ok(st.framesDropped > 0);
    // Every frame was taken, dropped, or is the one in the slot: at most one is held.
    const held = st.framesReceived - st.framesTaken - st.framesDropped;
    assert.ok(held === 0 || held === 1, `held ${held}`);
  });
});

void test('ffmpeg killed mid-run is restarted: lost, then restored, and frames resume', { timeout: 15_000 }, async () => {
  const src = createFrameSource({ kind: 'replay', path: clip, loop: true, restartBackoffMinMs: 100 });
  const lost: LostEvent[] = [];
  const restored: RestoredEvent[] = [];
  src.on('lost', (e) => lost.push(e));
  src.on('restored', (e) => restored.push(e));
  await using(src, async () => {
    await src.next();
    const pid = src.status().pid;
    assert.ok(pid !== null && isAlive(pid));
    assert.deepEqual(await livePidsMentioning(clip), [pid]);
    process.kill(pid, 'SIGKILL');
    await waitFor('restored', () => restored.length === 1);
    assert.match(lost[0]?.reason ?? '', /ffmpeg killed by SIGKILL/);
    assert.equal(lost[0]?.retryInMs, 100);
    const before = src.status().framesReceived;
    const frame = await src.next();
    assert.ok(frame.seq >= before, 'seq continues across the restart');
    const st = src.status();
    assert.equal(st.state, 'running');
    assert.equal(st.restarts, 1);
    assert.ok(st.pid !== null && st.pid !== pid);
    assert.equal(isAlive(pid), false);
  });
  assert.deepEqual(await livePidsMentioning(clip), [], 'stop() left no ffmpeg');
});

void test('a frozen ffmpeg (SIGSTOP) is noticed by the stall watchdog, killed and restarted', { timeout: 15_000 }, async () => {
  const src = createFrameSource({ kind: 'replay', path: clip, loop: true, stallTimeoutMs: 600, killGraceMs: 200, restartBackoffMinMs: 100 });
  const lost: LostEvent[] = [];
  let restored = 0;
  src.on('lost', (e) => lost.push(e));
  src.on('restored', () => restored++);
  await using(src, async () => {
    await src.next();
    const pid = src.status().pid;
    assert.ok(pid !== null);
    process.kill(pid, 'SIGSTOP'); // SIGTERM stays pending on a stopped process: SIGKILL must follow
    await waitFor('restored after stall', () => restored === 1, 5000);
    assert.match(lost[0]?.reason ?? '', /^no frame for \d+ ms$/);
    assert.equal(isAlive(pid), false);
    assert.ok((await src.next()).seq > 0);
  });
});

void test('stop() kills ffmpeg, rejects a waiting consumer, and start() works again', { timeout: 15_000 }, async () => {
  const src = createFrameSource({ kind: 'replay', path: clip, loop: true });
  await src.start();
  await src.next();
  const pid = src.status().pid;
  assert.ok(pid !== null);
  await src.next(); // drain, so the next call waits
  const waiting = assert.rejects(src.next(), (e: unknown) => e instanceof FrameSourceClosedError && e.reason === 'stopped');
  await src.stop();
  await waiting;
  assert.equal(isAlive(pid), false);
  assert.equal(src.status().pid, null);
  await src.start();
  try {
    assert.ok((await src.next()).seq > 0);
  } finally {
    await src.stop();
  }
  assert.deepEqual(await livePidsMentioning(clip), []);
});
