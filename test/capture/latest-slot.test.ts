import './quiet-logs.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameSourceClosedError, LatestFrameSlot, type Frame } from '../../src/capture/index.js';

const frame = (seq: number): Frame => ({ data: Buffer.from([seq]), seq, capturedAtMs: seq, sourceId: 't' });

void test('the newest frame wins and overwritten frames are counted', async () => {
  const slot = new LatestFrameSlot();
  for (let i = 1; i <= 5; i++) slot.put(frame(i));
  assert.equal((await slot.take()).seq, 5);
  assert.equal(slot.dropped, 4);
  assert.equal(slot.hasFrame, false);
});

void test('a waiting consumer gets the next frame, and abort removes the waiter', async () => {
  const slot = new LatestFrameSlot();
  const waiting = slot.take();
  slot.put(frame(1));
  assert.equal((await waiting).seq, 1);
  const ac = new AbortController();
  const aborted = slot.take(ac.signal);
  ac.abort(new Error('shutting down'));
  await assert.rejects(aborted, /shutting down/);
  slot.put(frame(2)); // goes to the slot, not to the aborted waiter
  assert.equal((await slot.take()).seq, 2);
  assert.equal(slot.taken, 2);
});

void test('close rejects waiters and later takes; keepFrame leaves the last frame takeable', async () => {
  const slot = new LatestFrameSlot();
  const waiting = slot.take();
  slot.close(new FrameSourceClosedError('t', 'stopped'));
  await assert.rejects(waiting, FrameSourceClosedError);
  slot.reopen();
  slot.put(frame(3));
  slot.close(new FrameSourceClosedError('t', 'ended'), true);
  assert.equal((await slot.take()).seq, 3);
  await assert.rejects(slot.take(), (e: unknown) => e instanceof FrameSourceClosedError && e.reason === 'ended');
  slot.reopen();
  slot.put(frame(4));
  slot.close(new FrameSourceClosedError('t', 'stopped'));
  await assert.rejects(slot.take(), FrameSourceClosedError);
});
