// `gate-agent serve`'s /healthz probes, over a real SQLite store: ready only
// when the database takes a real write, the models have answered and an event
// exists. (test/api/e2e.test.ts checks them through the running command.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelsState, serveReadiness } from '../../src/app/serve-health.js';
import { openStore } from '../../src/store/open.js';
import { defaultConfig } from '../fixtures.js';

void test('serve readiness: store written for real, models seen working, an event known', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gate-serve-health-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = openStore(defaultConfig(), dir);
  t.after(() => store.db.close());
  const models = new ModelsState();
  const probes = serveReadiness(store, models);
  const check = async (): Promise<Record<string, { ready: boolean; reason?: string }>> =>
    Object.fromEntries(await Promise.all(probes.map(async (p) => [p.name, await p.check()] as const)));

  let r = await check();
  assert.deepStrictEqual([r.store?.ready, r.models?.ready, r.event?.ready], [true, false, false]);
  assert.match(r.models!.reason!, /still loading/);
  assert.match(r.event!.reason!, /no event is known to this gate.*events add/);

  models.loaded();
  store.upsertEvent({ id: 'evt_1' });
  r = await check();
  assert.deepStrictEqual([r.store?.ready, r.models?.ready, r.event?.ready], [true, true, true]);

  // The database refuses writes (as on a full disk or a read-only mount): a read would still pass.
  store.db.pragma('query_only = ON');
  r = await check();
  assert.equal(r.store?.ready, false);
  assert.match(r.store!.reason!, /cannot be written or read \(.*readonly.*\)/i);
  assert.equal(r.event?.ready, true, 'reads still work, and the probe says which part failed');
  store.db.pragma('query_only = OFF');

  models.unloaded('the face models are stopping');
  r = await check();
  assert.deepStrictEqual([r.store?.ready, r.models?.ready], [true, false]);
});
