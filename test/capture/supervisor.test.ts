// The restart logic with time injected: a scripted source whose sessions the test
// crashes or starves, driven by a manual clock, so backoff and stall detection are
// checked to the millisecond without sleeping.
import './quiet-logs.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelayMs, FrameSourceClosedError, type LostEvent, type RestoredEvent } from '../../src/capture/index.js';
import { SupervisedSource, type CaptureSession, type SessionEnd, type SessionSink } from '../../src/capture/supervisor.js';
import type { FrameSourceOptions } from '../../src/capture/options.js';
import { ManualClock, flush } from './helpers.js';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);

class ScriptedSession implements CaptureSession {
  readonly done: Promise<SessionEnd>;
  end!: (e: SessionEnd) => void;
  closed = false;
  constructor(
    readonly sink: SessionSink,
    readonly pid: number,
  ) {
    this.done = new Promise((r) => (this.end = r));
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

class ScriptedSource extends SupervisedSource {
  sessions: ScriptedSession[] = [];
  failOpen = false;
  constructor(readonly clk: ManualClock) {
    super('replay', { clock: clk, stallTimeoutMs: 1000, restartBackoffMinMs: 100, restartBackoffMaxMs: 400 }, 'scripted');
  }
  protected options(): FrameSourceOptions {
    return { kind: 'replay', path: '/x', stallTimeoutMs: 1000, restartBackoffMinMs: 100, restartBackoffMaxMs: 400 };
  }
  protected check(): Promise<string[]> {
    return Promise.resolve([]);
  }
  protected open(sink: SessionSink): Promise<CaptureSession> {
    if (this.failOpen) return Promise.reject(new Error('device busy'));
    const s = new ScriptedSession(sink, 1000 + this.sessions.length);
    this.sessions.push(s);
    return Promise.resolve(s);
  }
  get last(): ScriptedSession {
    const s = this.sessions.at(-1);
    assert.ok(s);
    return s;
  }
}

void test('backoffDelayMs doubles from min and is capped at max', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 50].map((a) => backoffDelayMs(a, 500, 3000)), [500, 1000, 2000, 3000, 3000, 3000]);
});

void test('a crashed session is restarted with doubling backoff, lost once, restored once, backoff reset by a frame', async () => {
  const clock = new ManualClock();
  const src = new ScriptedSource(clock);
  const lost: LostEvent[] = [];
  const restored: RestoredEvent[] = [];
  src.on('lost', (e) => lost.push(e));
  src.on('restored', (e) => restored.push(e));
  await src.start();
  await flush();
  src.last.sink.frame(JPEG);
  assert.equal(src.status().state, 'running');

  src.last.end({ kind: 'failed', reason: 'ffmpeg exited with code 1' });
  await flush();
  assert.equal(src.status().state, 'lost');
  assert.deepEqual(lost, [{ reason: 'ffmpeg exited with code 1', retryInMs: 100 }]);
  src.failOpen = true; // the camera is still unplugged for the next two attempts
  await clock.advance(100);
  await clock.advance(200);
  assert.deepEqual(clock.pending(), [400], 'third retry waits 400 ms');
  src.failOpen = false;
  await clock.advance(400);
  assert.equal(src.sessions.length, 2);
  assert.equal(src.status().restarts, 3);
  clock.pending().forEach((ms) => assert.equal(ms, 1000, 'only the stall timer is pending'));
  await clock.advance(50);
  src.last.sink.frame(JPEG);
  assert.equal(lost.length, 1, 'one lost event per outage');
  assert.deepEqual(restored, [{ downMs: 750, restarts: 3 }]);
  assert.equal(src.status().lastError, 'device busy');

  src.last.end({ kind: 'failed', reason: 'again' });
  await flush();
  assert.equal(lost.at(-1)?.retryInMs, 100, 'a frame resets the backoff');
  await src.stop();
});

void test('no frame for stallTimeoutMs closes the session and restarts it', async () => {
  const clock = new ManualClock();
  const src = new ScriptedSource(clock);
  const lost: LostEvent[] = [];
  src.on('lost', (e) => lost.push(e));
  await src.start();
  await flush();
  const first = src.last;
  await clock.advance(600);
  first.sink.frame(JPEG); // re-arms nothing; the stall window now counts from here
  await clock.advance(999);
  assert.equal(first.closed, false);
  await clock.advance(1);
  assert.equal(first.closed, true);
  assert.equal(lost[0]?.reason, 'no frame for 1000 ms');
  await clock.advance(100);
  assert.equal(src.sessions.length, 2);
  first.sink.frame(JPEG); // late frames from a closed session are ignored
  assert.equal(src.status().framesReceived, 1);
  await src.stop();
  assert.equal(src.last.closed, true);
});

void test('an error with no listener does not throw; stop rejects a waiting next() and is idempotent', async () => {
  const clock = new ManualClock();
  const src = new ScriptedSource(clock);
  const errors: Error[] = [];
  await src.start();
  await flush();
  src.last.end({ kind: 'failed', reason: 'boom' }); // no 'error' listener: must not throw
  await flush();
  src.on('error', (e) => errors.push(e));
  await clock.advance(100);
  src.last.end({ kind: 'failed', reason: 'boom again' });
  await flush();
  assert.match(errors[0]?.message ?? '', /boom again/);
  const waiting = assert.rejects(src.next(), (e: unknown) => e instanceof FrameSourceClosedError && e.reason === 'stopped');
  await src.stop();
  await src.stop();
  await waiting;
  assert.equal(src.status().state, 'stopped');
  assert.deepEqual(clock.pending(), [], 'no timer outlives stop()');
});

void test('an ended session (replay finished) ends the source; the last frame is still takeable', async () => {
  const clock = new ManualClock();
  const src = new ScriptedSource(clock);
  let ended = false;
  src.on('ended', () => (ended = true));
  await src.start();
  await flush();
  src.last.sink.frame(JPEG);
  src.last.end({ kind: 'ended' });
  await flush();
  assert.ok(ended);
  assert.equal(src.status().state, 'ended');
  assert.equal((await src.next()).seq, 1);
  await assert.rejects(src.next(), FrameSourceClosedError);
  await src.stop();
});
