// SIGKILL of the agent: the backlog survives in SQLite and drains after the
// restart, and the broker announces the death with the retained last will.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { Outbox } from '../../src/publish/outbox.js';
import type { StatusPayload } from '../../src/publish/topics.js';
import { ROOT } from '../paths.js';
import { Mosquitto } from './mosquitto.js';
import { Recorder, decision, identity, sampleSession, tempDb, uniqueInOrder, waitFor, defer } from './helpers.js';
import { own } from '../proc.js';

const BASE = 'securegate/s1/g1';
const CHILD = `${ROOT}/dist/test/publish/child-publisher.js`;

function startChild(t: TestContext, dbPath: string, url: string): ChildProcess {
  const child = own(spawn(process.execPath, [CHILD], {
    env: { ...process.env, SG_TEST_DB: dbPath, SG_TEST_BROKER: url, GATE_AGENT_LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'inherit'],
  }));
  defer(t, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

void test('SIGKILL in the middle of draining a backlog: after restart the rest arrives, nothing lost', async (t) => {
  const broker = await Mosquitto.launch();
  defer(t, () => broker.dispose());
  const f = tempDb();
  defer(t, () => f.cleanup());
  const total = 10_000;
  const outbox = new Outbox(f.db, { identity, maxMessages: 1_000_000 });
  const expected = f.db.transaction(() => Array.from({ length: total }, (_, i) => outbox.recordDecision(decision(i), i % 2 ? sampleSession() : null).messageId))();
  f.db.close();
  const sub = await Recorder.connect(broker.url, [`${BASE}/sessions`]);
  defer(t, () => sub.close());
  const count = () => sub.on(`${BASE}/sessions`).length;

  const first = startChild(t, f.path, broker.url);
  await waitFor('first 1000 messages', () => count() >= 1000, 15_000);
  await killed(first);
  const db = new Database(f.path, { readonly: true });
  const left = (db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
  db.close();
  assert.ok(left > 0 && left < total, `the kill must land mid-drain (left ${left} of ${total})`);

  startChild(t, f.path, broker.url);
  // The count check first: parsing 10k payloads every poll would slow the test down.
  await waitFor('all messages', () => count() >= total && uniqueInOrder(sub.on(`${BASE}/sessions`).map((m) => m.payload)).length >= total, 30_000);
  assert.deepEqual(uniqueInOrder(sub.on(`${BASE}/sessions`).map((m) => m.payload)), expected);
  t.diagnostic(`left in outbox at kill: ${left}; received ${count()} for ${total} (duplicates resent with the same id: ${count() - total})`);
  const check = new Database(f.path, { readonly: true });
  defer(t, () => check.close());
  await waitFor('outbox empty', () => (check.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n === 0);
});

void test('SIGKILL of the agent: the broker publishes the retained offline will', async (t) => {
  const broker = await Mosquitto.launch();
  defer(t, () => broker.dispose());
  const f = tempDb();
  defer(t, () => f.cleanup());
  const watch = await Recorder.connect(broker.url, [`${BASE}/status`]);
  defer(t, () => watch.close());
  const child = startChild(t, f.path, broker.url);
  const states = () => watch.json<StatusPayload>(`${BASE}/status`).map((s) => s.state);
  await waitFor('online', () => states().includes('online'));
  await killed(child);
  await waitFor('will fired', () => states().at(-1) === 'offline', 8000);
  const will = watch.json<StatusPayload>(`${BASE}/status`).at(-1);
  assert.equal(will?.reason, 'connection lost');
  const late = await Recorder.connect(broker.url, [`${BASE}/status`]);
  defer(t, () => late.close());
  await waitFor('retained will', () => late.on(`${BASE}/status`).length > 0);
  assert.deepEqual([late.on(`${BASE}/status`)[0]?.retain, late.json<StatusPayload>(`${BASE}/status`)[0]?.state], [true, 'offline']);
});
