// Fairness between API keys, as pure logic on an injected clock and injected timers: the
// gate-wide token bucket shared between active keys, and the admission queue served round
// robin between keys with a per-key in-flight cap. (fairness.test.ts runs the same over
// real HTTP, real images and the real face pipeline.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FairShareBucket } from '../../src/api/fair-share.js';
import { Admission } from '../../src/api/admission.js';
import { manualTimers } from './manual-timers.js';
import { ApiError } from '../../src/api/errors.js';

test('fair share: alone, a key has the whole gate-wide bucket (a plain token bucket)', () => {
  let now = 0;
  const b = new FairShareBucket({ perSec: 2, burst: 4, windowMs: 10_000 }, () => now);
  const got = Array.from({ length: 6 }, () => b.take('a') === null);
  assert.deepEqual(got, [true, true, true, true, false, false]);
  now += 500; // one token back at 2/s
  assert.equal(b.take('a'), null);
  const refused = b.take('a');
  assert.ok(refused && refused.active === 1 && Math.abs(refused.waitSec - 0.5) < 1e-9, JSON.stringify(refused));
});

test('fair share: a flooding key takes the spare capacity, never a quiet key\'s turn; the gate-wide bound holds', () => {
  let now = 0;
  const perSec = 20;
  const burst = 40;
  const b = new FairShareBucket({ perSec, burst, windowMs: 10_000 }, () => now);
  let attacker = 0;
  let quiet = 0;
  let quietRefused = 0;
  // 60 s on a 1 ms clock: the attacker asks every ms (1000/s), the quiet key twice a second.
  for (now = 0; now < 60_000; now++) {
    if (b.take('attacker') === null) attacker++;
    if (now % 500 === 250) {
      if (b.take('quiet') === null) quiet++;
      else quietRefused++;
    }
  }
  assert.equal(quietRefused, 0, 'the quiet key is never refused');
  assert.equal(quiet, 120);
  // Work-conserving: what the quiet key leaves, the attacker gets; never more than the
  // gate's rate in all, plus the burst and at most one burst of debt.
  assert.ok(attacker + quiet <= 2 * burst + perSec * 60, `${attacker} + ${quiet}`);
  assert.ok(attacker >= perSec * 60 - quiet - burst, `the attacker got the spare capacity: ${attacker}`);
});

test('fair share: two flooding keys get equal halves; a key idle past the window stops counting', () => {
  let now = 0;
  const b = new FairShareBucket({ perSec: 10, burst: 10, windowMs: 2000 }, () => now);
  const got = { a: 0, b: 0 };
  for (now = 0; now < 30_000; now++) {
    if (b.take('a') === null) got.a++;
    if (b.take('b') === null) got.b++;
  }
  assert.ok(Math.abs(got.a - got.b) <= 12, JSON.stringify(got));
  assert.ok(got.a + got.b <= 2 * 10 + 10 * 30, JSON.stringify(got));
  assert.equal(b.active(), 2);
  now += 2001;
  assert.equal(b.active(), 0);
  const r = b.take('a');
  assert.equal(r, null);
  const refused = (() => {
    for (;;) {
      const x = b.take('a');
      if (x) return x;
    }
  })();
  assert.equal(refused.active, 1, 'b went idle: a has the gate to itself again');
});

/** Settle promise callbacks. */
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('admission: a key runs at most its in-flight cap; a quiet key gets the free slot ahead of a flooding key\'s queue', async () => {
  const timers = manualTimers();
  const a = new Admission({ maxInFlight: 2, maxInFlightPerClient: 1, maxInFlightPixels: 100, smallImagePixels: 1, maxQueued: 8, queueTimeoutMs: 5000 }, timers);
  const admitted: string[] = [];
  const releases: (() => void)[] = [];
  const ask = (client: string, pixels = 10): Promise<void> =>
    a.acquire(pixels, client).then(
      (release) => {
        admitted.push(client);
        releases.push(release);
      },
      () => undefined,
    );
  const flood = Array.from({ length: 6 }, () => ask('attacker'));
  await tick();
  // One slot for the attacker, the second stays free despite its five waiting.
  assert.deepEqual(admitted, ['attacker']);
  assert.deepEqual(a.stats(), { inFlight: 1, inFlightPixels: 10, queued: 5 });
  const quiet = ask('quiet');
  await tick();
  assert.deepEqual(admitted, ['attacker', 'quiet'], 'the quiet key went straight in');
  // When the attacker's slot frees, its next waiter runs; when the quiet key's frees, nobody of the attacker's (cap).
  releases[0]!();
  await tick();
  assert.deepEqual(admitted, ['attacker', 'quiet', 'attacker']);
  releases[1]!();
  await tick();
  assert.equal(a.stats().inFlight, 1);
  void quiet;
  for (const r of releases) r();
  for (let i = 0; i < 6; i++) {
    await tick();
    for (const r of releases) r();
  }
  await Promise.all(flood);
  assert.deepEqual(a.stats(), { inFlight: 0, inFlightPixels: 0, queued: 0 });
});

test('admission: round robin between keys waiting on the pixel budget; a full queue drops the longest line\'s newest', async () => {
  const timers = manualTimers();
  const a = new Admission({ maxInFlight: 2, maxInFlightPerClient: 2, maxInFlightPixels: 100, smallImagePixels: 1, maxQueued: 4, queueTimeoutMs: 5000 }, timers);
  const order: string[] = [];
  const releases: (() => void)[] = [];
  const refused: string[] = [];
  const ask = (client: string, pixels: number): Promise<void> =>
    a.acquire(pixels, client).then(
      (release) => {
        order.push(client);
        releases.push(release);
      },
      (e: ApiError) => void refused.push(`${client} ${e.status}`),
    );
  // A bomb fills the pixel budget; four more wait (the queue is full).
  const all = [ask('bomber', 95), ask('bomber', 95), ask('bomber', 95), ask('bomber', 95), ask('bomber', 95)];
  await tick();
  assert.deepEqual(a.stats().queued, 4);
  // A newcomer from a shorter line takes the place of the bomber's newest waiter.
  all.push(ask('quiet', 10));
  await tick();
  assert.deepEqual(refused, ['bomber 503']);
  // The quiet key waits for the pixels, and is next when they free (never served before).
  releases.shift()!();
  await tick();
  assert.deepEqual(order, ['bomber', 'quiet']);
  // And no one overtakes a waiting bomb: it runs once the pixels are back.
  releases.shift()!();
  await tick();
  assert.deepEqual(order, ['bomber', 'quiet', 'bomber']);
  timers.fire();
  await Promise.all(all);
  assert.deepEqual(refused, ['bomber 503', 'bomber 503', 'bomber 503']);
});

test('admission: a small image runs beside a bomb-sized one (smallImagePixels over the budget); a second large one waits', async () => {
  const timers = manualTimers();
  const a = new Admission({ maxInFlight: 3, maxInFlightPerClient: 3, maxInFlightPixels: 100, smallImagePixels: 10, maxQueued: 4, queueTimeoutMs: 5000 }, timers);
  const bomb = await a.acquire(95, 'bomber');
  const photo = await a.acquire(10, 'kiosk');
  assert.deepEqual(a.stats(), { inFlight: 2, inFlightPixels: 105, queued: 0 });
  let secondIn = false;
  const second = a.acquire(95, 'other').then((r) => ((secondIn = true), r));
  await tick();
  assert.equal(secondIn, false);
  bomb();
  photo();
  (await second)();
  assert.deepEqual(a.stats(), { inFlight: 0, inFlightPixels: 0, queued: 0 });
});
