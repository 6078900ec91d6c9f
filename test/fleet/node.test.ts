// Two fleet nodes (the MQTT side of two gates) with real SQLite files on a real mosquitto,
// without the face pipeline: grants made while apart meet as a conflict recorded the same
// way on both; retained entries reach a node that connects later; redeliveries and bad
// payloads change nothing.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { EntryStore, type StoredConflict } from '../../src/fleet/entry-store.js';
import { FleetNode } from '../../src/fleet/node.js';
import { fleetDefaults } from '../../src/config/sections/fleet.js';
import type { SiteEntry } from '../../src/fleet/topics.js';
import { openDatabase } from '../../src/store/db.js';
import { until } from '../proc.js';
import { Mosquitto } from '../publish/mosquitto.js';
import { testOptions } from '../publish/helpers.js';

function node(t: TestContext, broker: Mosquitto, gateId: string): { node: FleetNode; store: EntryStore; heard: SiteEntry[]; conflicts: StoredConflict[] } {
  const dir = mkdtempSync(join(tmpdir(), `fleet-node-${gateId}-`));
  const db = openDatabase(dir);
  t.after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const store = new EntryStore(db, gateId);
  const heard: SiteEntry[] = [];
  const conflicts: StoredConflict[] = [];
  const n = new FleetNode({
    options: { ...fleetDefaults, enabled: true, heartbeatMs: 200, peerSilenceMs: 1000 },
    mqtt: testOptions(broker.url),
    identity: { siteId: 's1', gateId, version: 'test' },
    baseTopic: `securegate/s1/${gateId}`,
    store,
    conflictWindowMs: () => 60 * 60_000,
    onPeerEntry: (e) => heard.push(e),
    onConflict: (c) => conflicts.push(c),
  });
  t.after(() => n.stop());
  return { node: n, store, heard, conflicts };
}

test('grants made apart meet as one conflict, resolved the same on both gates; a late node gets the retained entries; duplicates and bad payloads change nothing', async (t: TestContext) => {
  const broker = await Mosquitto.launch();
  t.after(() => broker.dispose());
  const a = node(t, broker, 'lane-a');
  const b = node(t, broker, 'lane-b');
  const now = Date.now();
  // Both lanes admit u1 while they cannot hear each other (40 ms apart); B also admits u2.
  a.store.recordOwn('gala', 'u1', now, true);
  b.store.recordOwn('gala', 'u1', now + 40, true);
  b.store.recordOwn('gala', 'u2', now + 50, false);
  a.node.start();
  b.node.start();
  await until('both conflicts', () => (a.conflicts.length === 1 && b.conflicts.length === 1 ? true : undefined), 10_000);
  for (const side of [a, b]) {
    const c = side.conflicts[0]!;
    assert.deepEqual([c.userId, c.kept.gateId, c.conflict.gateId, c.kept.enteredAtMs, c.conflict.enteredAtMs], ['u1', 'lane-a', 'lane-b', now, now + 40]);
    assert.equal(side.store.conflicts().length, 1, 'recorded in SQLite');
  }
  await until('every entry published', () => (a.store.unpublishedCount() + b.store.unpublishedCount() === 0 ? true : undefined));
  assert.deepEqual(a.store.peerEntries('gala').sort(), [['u1', now + 40], ['u2', now + 50]]);

  // A third lane starting later gets every entry from the retained topics.
  const c = node(t, broker, 'lane-c');
  c.node.start();
  await until('the retained entries at the late lane', () => (c.store.peerEntryCount() === 3 ? true : undefined));
  // The conflict is recorded there too (it is not one of its own: no event).
  await until('the conflict at the third lane', () => (c.store.conflicts().length === 1 ? true : undefined));
  assert.equal(c.conflicts.length, 0);

  // A redelivery (a reconnect gets the retained entries again) and bad payloads change nothing.
  const before = a.heard.length;
  const raw = await mqtt.connectAsync(broker.url);
  t.after(() => raw.endAsync());
  await raw.publishAsync('securegate/s1/fleet/entries/gala/lane-x/u9', 'not json', { qos: 1 });
  await raw.publishAsync('securegate/s1/fleet/entries/gala/lane-x/u9', JSON.stringify({ v: 1, siteId: 's1', gateId: 'lane-y', eventId: 'gala', userId: 'u9', enteredAtMs: now, seq: 1 }), { qos: 1 });
  await a.node.stop();
  a.node.start();
  // A new entry from lane-b after the reconnect arrives after the retained ones (the broker sends those first).
  await until('lane-a connected again', () => (a.node.status().connected ? true : undefined));
  b.store.recordOwn('gala', 'u3', now + 60, false);
  b.node.entryRecorded();
  await until('the new entry at lane-a', () => (a.heard.some((e) => e.userId === 'u3') ? true : undefined));
  assert.equal(a.heard.length, before + 1, 'redelivered entries are duplicates');
  assert.equal(a.store.peerEntries('gala').length, 3);
});
