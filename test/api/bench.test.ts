// The benchmark harness runs end to end with an injected service (a short run;
// the numbers themselves are not asserted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBench, StaticIdentity } from '../../scripts/bench-api.js';
import type { IdentifyOutcome } from '../../src/api/identity-service.js';
import { dataUrl, testImage } from './helpers.js';

void test('runBench drives POST /identity with the injected service and reports latencies', async () => {
  let calls = 0;
  const identity = new StaticIdentity();
  const counting = {
    hasEvent: () => true,
    identify: async (): Promise<IdentifyOutcome> => {
      calls++;
      return identity.identify();
    },
  };
  const r = await runBench({ identity: counting, eventId: 'evt', imageUrl: dataUrl(await testImage('png')), concurrency: 4, durationMs: 300 });
  assert.equal(r.concurrency, 4);
  assert.ok(r.requests > 0);
  assert.deepStrictEqual(r.statuses, { 200: r.requests });
  assert.equal(calls, r.requests, 'every request reached the injected service');
  assert.ok(r.p50Ms <= r.p95Ms && r.p95Ms <= r.p99Ms);
});
