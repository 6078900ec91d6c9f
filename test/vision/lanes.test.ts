// The inference worker's queue: camera first, API work between frames and outside
// passages, with a bound on its wait; a hand-driven clock, no sleeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LaneQueue, VisionBusyError, type Lane, type LaneClock, type LaneOptions } from '../../src/vision/lanes.js';

/** `earlyMs`: timers fire that much before the clock reads their time, as libuv's may (its loop time is whole ms). */
function clock(earlyMs = 0): LaneClock & { t: number; advance(ms: number): void } {
  const timers = new Map<number, { at: number; fn: () => void }>();
  let n = 0;
  const c = {
    t: 0,
    now: () => c.t,
    setTimeout: (fn: () => void, ms: number) => (timers.set(++n, { at: c.t + ms - earlyMs, fn }), n),
    clearTimeout: (h: unknown) => void timers.delete(h as number),
    advance(ms: number) {
      c.t += ms;
      for (const [k, x] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (x.at <= c.t && timers.delete(k)) x.fn();
      }
    },
  };
  return c;
}

function harness(opts: LaneOptions = { passageHoldMs: 1000, apiMaxWaitMs: 3000, backgroundMaxWaitMs: 60_000 }, earlyMs = 0) {
  const c = clock(earlyMs);
  const q = new LaneQueue(opts, c);
  const started: string[] = [];
  const refused: [string, Error][] = [];
  const submit = (lane: Lane, name: string): void => q.submit(lane, () => started.push(name), (err) => refused.push([name, err]));
  return { c, q, started, refused, submit };
}

test('one job at a time; a queued camera frame goes ahead of API and background work queued before it', () => {
  const { q, started, submit } = harness();
  submit('background', 'enroll');
  assert.deepEqual(started, ['enroll']);
  submit('api', 'api1');
  submit('background', 'enroll2');
  submit('camera', 'frame1');
  assert.deepEqual(started, ['enroll'], 'nothing starts while a job runs');
  q.done();
  assert.deepEqual(started, ['enroll', 'frame1']);
  q.done();
  assert.deepEqual(started, ['enroll', 'frame1', 'api1'], 'API before background');
  q.done();
  assert.deepEqual(started, ['enroll', 'frame1', 'api1', 'enroll2']);
});

test('API work waits while the gate processes a frame and runs in the gap between frames, one job per gap', () => {
  const { q, started, submit } = harness();
  q.frameStarted();
  submit('camera', 'detect');
  q.done();
  submit('api', 'api1');
  submit('api', 'api2');
  assert.deepEqual(started, ['detect'], 'held while the frame is in progress (its liveness and matching follow)');
  q.frameEnded();
  assert.deepEqual(started, ['detect', 'api1'], 'the gap: one API job');
  q.frameStarted();
  submit('camera', 'next frame');
  q.done();
  assert.deepEqual(started, ['detect', 'api1', 'next frame'], 'the next frame goes first, api2 still waits');
  q.done();
  q.frameEnded();
  assert.deepEqual(started, ['detect', 'api1', 'next frame', 'api2']);
});

test('a passage (a camera frame with a face) holds API work for passageHoldMs; the hold ends by itself', () => {
  const { c, q, started, submit } = harness();
  submit('camera', 'face frame');
  q.facesSeen();
  q.done();
  submit('api', 'api1');
  submit('background', 'enroll');
  c.advance(999);
  assert.deepEqual(started, ['face frame']);
  assert.equal(q.stats().passage, true);
  c.advance(1);
  assert.deepEqual(started, ['face frame', 'api1'], 'no frame needed to end the hold');
  q.done();
  assert.deepEqual(started, ['face frame', 'api1', 'enroll']);
});

test('the hold ends when its timer fires, even a fraction of a ms before the clock reads its end', () => {
  const { c, q, started, refused, submit } = harness(undefined, 0.5);
  submit('camera', 'face frame');
  q.facesSeen();
  q.done();
  submit('api', 'api1');
  c.advance(999.5);
  assert.deepEqual(started, ['face frame', 'api1'], 'the API job runs when the hold timer fires, not at its own deadline');
  c.advance(3000);
  assert.deepEqual(refused, []);
});

test('API work waits at most apiMaxWaitMs, then is refused busy with a Retry-After; background work is not refused', () => {
  const { c, q, started, refused, submit } = harness({ passageHoldMs: 2000, apiMaxWaitMs: 3000, backgroundMaxWaitMs: 60_000 });
  q.frameStarted();
  submit('api', 'api1');
  submit('background', 'enroll');
  c.advance(2999);
  assert.equal(refused.length, 0);
  c.advance(1);
  assert.equal(refused.length, 1);
  const [name, err] = refused[0]!;
  assert.equal(name, 'api1');
  assert.ok(err instanceof VisionBusyError);
  assert.equal(err.retryAfterS, 2);
  assert.match(err.message, /retry after 2 s/);
  assert.equal(q.stats().refusedBusy, 1);
  c.advance(60_000);
  assert.equal(refused.length, 1, 'background work waits as long as it must');
  q.frameEnded();
  assert.deepEqual(started, ['enroll']);
});

test('an API job that started in time is not refused later; refuseAll empties every lane', () => {
  const { c, q, started, refused, submit } = harness();
  submit('api', 'api1');
  c.advance(10_000);
  assert.deepEqual(started, ['api1']);
  assert.equal(refused.length, 0);
  submit('camera', 'frame');
  submit('api', 'api2');
  q.refuseAll(new Error('worker gone'));
  assert.deepEqual(refused.map(([n]) => n), ['frame', 'api2']);
  c.advance(10_000);
  assert.equal(refused.length, 2, 'no timer fires for a refused job');
});

test('background work is not starved by a passage that never ends: past backgroundMaxWaitMs it runs in a gap between frames', () => {
  const { c, q, started, refused } = harness({ passageHoldMs: 500, apiMaxWaitMs: 3000, backgroundMaxWaitMs: 2000 });
  // Camera jobs finish at once; a background job runs until done() is called.
  const run = (lane: Lane, name: string): void =>
    q.submit(lane, () => { started.push(name); if (lane === 'camera') q.done(); }, (err) => refused.push([name, err]));
  // Someone is always at the door: a frame with a face every 100 ms, 50 ms in the gate.
  const frame = (n: number): void => {
    q.frameStarted();
    run('camera', `frame ${n}`);
    q.facesSeen();
    c.advance(50);
    q.frameEnded();
    c.advance(50);
  };
  frame(0);
  run('background', 'sync photo 1');
  run('background', 'sync photo 2');
  for (let n = 1; n < 20; n++) frame(n);
  const syncs = (): string[] => started.filter((s) => s.startsWith('sync'));
  assert.deepEqual(syncs(), [], 'held by the passage until its bound');
  frame(20);
  assert.deepEqual(syncs(), ['sync photo 1'], 'past its bound: started in the gap after frame 20, the passage still on');
  assert.equal(q.stats().passage, true);
  assert.equal(q.stats().framesInProgress, 0);
  frame(21);
  assert.ok(!started.includes('frame 21'), 'one job at a time: the frame waits for the photo in hand');
  q.done();
  assert.deepEqual(started.slice(-2), ['frame 21', 'sync photo 2'], 'the queued frame first, then the next overdue photo');
  assert.deepEqual(refused, []);
});

test('two workers: two camera frames run at once; API work takes a worker only when every frame in progress keeps one', () => {
  const { q, started, submit } = harness();
  q.setCapacity(2);
  q.frameStarted();
  q.frameStarted();
  submit('camera', 'frame1');
  submit('camera', 'frame2');
  assert.deepEqual(started, ['frame1', 'frame2'], 'one frame per worker, at once');
  submit('api', 'api1');
  q.done('camera');
  assert.deepEqual(started, ['frame1', 'frame2'], 'two frames in progress hold both workers (their next steps follow)');
  q.frameEnded();
  assert.deepEqual(started, ['frame1', 'frame2', 'api1'], 'one frame left in progress: the free worker takes the API job');
  submit('api', 'api2');
  q.done('camera');
  assert.deepEqual(started, ['frame1', 'frame2', 'api1'], 'the frame still in progress keeps the other worker');
  submit('camera', 'frame2-liveness');
  assert.deepEqual(started, ['frame1', 'frame2', 'api1', 'frame2-liveness']);
  q.done('camera');
  q.frameEnded();
  q.done('api');
  assert.deepEqual(started, ['frame1', 'frame2', 'api1', 'frame2-liveness', 'api2']);
  assert.equal(q.stats().running, 1);
});

test('a worker down: the capacity follows, queued work waits for the workers up', () => {
  const { q, started, submit } = harness();
  q.setCapacity(2);
  submit('camera', 'frame1');
  q.setCapacity(1);
  submit('camera', 'frame2');
  assert.deepEqual(started, ['frame1'], 'one worker up, busy');
  q.done('camera');
  assert.deepEqual(started, ['frame1', 'frame2']);
  q.setCapacity(2);
  submit('camera', 'frame3');
  assert.deepEqual(started, ['frame1', 'frame2', 'frame3'], 'the restarted worker takes work at once');
});
