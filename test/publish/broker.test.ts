// The publisher against a real mosquitto: outages, order, the outbox bound,
// availability and remote commands.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { MqttPublisher } from '../../src/publish/publisher.js';
import { Outbox } from '../../src/publish/outbox.js';
import { verifyAuditChain } from '../../src/publish/audit.js';
import type { CommandResponse, GateEvent, StatusPayload } from '../../src/publish/topics.js';
import type { PublishOptions } from '../../src/publish/options.js';
import { Mosquitto } from './mosquitto.js';
import { Recorder, captureLogger, decision, identity, sampleSession, tempDb, testOptions, uniqueInOrder, waitFor, defer } from './helpers.js';

const BASE = 'securegate/s1/g1';

async function setup(t: TestContext, opts: { persistence?: boolean; maxMessages?: number; over?: Partial<PublishOptions> } = {}) {
  const broker = await Mosquitto.launch({ persistence: opts.persistence ?? false });
  defer(t, () => broker.dispose());
  const f = tempDb();
  defer(t, () => f.cleanup());
  const outbox = new Outbox(f.db, { identity, maxMessages: opts.maxMessages ?? 10_000 });
  const { log, lines } = captureLogger();
  const pub = new MqttPublisher(testOptions(broker.url, opts.over), { outbox, identity, log });
  defer(t, () => pub.stop());
  return { broker, f, outbox, pub, lines };
}

void test('broker down while 200 decisions are made: after restart all 200 arrive, in order', async (t) => {
  const { broker, outbox, pub } = await setup(t, { persistence: true });
  // A persistent session, so the subscriber misses nothing while both reconnect.
  const sub = await Recorder.connect(broker.url, [`${BASE}/sessions`], { clientId: 'sub-outage', clean: false });
  defer(t, () => sub.close());
  pub.start();
  await waitFor('publisher online', () => pub.status().state === 'online');
  await broker.stop();
  await waitFor('publisher notices the outage', () => pub.status().state !== 'online');
  const expected = Array.from({ length: 200 }, (_, i) => outbox.recordDecision(decision(i, i % 3 === 0 ? 'unknown' : 'granted'), i % 3 === 0 ? null : sampleSession()).messageId);
  assert.equal(outbox.depth(), 200);
  await broker.start();
  await waitFor('200 sessions messages', () => sub.on(`${BASE}/sessions`).length >= 200 && uniqueInOrder(sub.on(`${BASE}/sessions`).map((m) => m.payload)).length >= 200, 15_000);
  assert.deepEqual(uniqueInOrder(sub.on(`${BASE}/sessions`).map((m) => m.payload)), expected);
  await waitFor('outbox drained', () => outbox.depth() === 0);
});

void test('broker stopped in the middle of draining a backlog: what was in flight is resent, nothing lost', async (t) => {
  const { broker, f, outbox, pub } = await setup(t, { persistence: true });
  const sub = await Recorder.connect(broker.url, [`${BASE}/sessions`], { clientId: 'sub-middrain', clean: false });
  defer(t, () => sub.close());
  const total = 5000;
  const expected = f.db.transaction(() => Array.from({ length: total }, (_, i) => outbox.recordDecision(decision(i), null).messageId))();
  const count = () => sub.on(`${BASE}/sessions`).length;
  // Freeze the broker the moment the 500th message arrives: the drain cannot finish first,
  // however fast this machine is.
  sub.onMessage = () => {
    if (count() === 500) broker.freeze();
  };
  pub.start();
  await waitFor('first 500', () => count() >= 500);
  const left = outbox.depth();
  assert.ok(left > 0, 'the stop must land mid-drain');
  await broker.stop();
  await broker.start();
  await waitFor('all', () => count() >= total && uniqueInOrder(sub.on(`${BASE}/sessions`).map((m) => m.payload)).length >= total, 20_000);
  assert.deepEqual(uniqueInOrder(sub.on(`${BASE}/sessions`).map((m) => m.payload)), expected);
  t.diagnostic(`left at broker stop: ${left}; received ${count()} for ${total}`);
});

void test('outbox bound: N+k while offline keeps the newest N and reports k after reconnect', async (t) => {
  const { broker, outbox, pub } = await setup(t, { persistence: true, maxMessages: 10 });
  const sub = await Recorder.connect(broker.url, [`${BASE}/sessions`, `${BASE}/events`], { clientId: 'sub-bound', clean: false });
  defer(t, () => sub.close());
  pub.start();
  await waitFor('publisher online', () => pub.status().state === 'online');
  await broker.stop();
  await waitFor('publisher offline', () => pub.status().state !== 'online');
  const ids = Array.from({ length: 13 }, (_, i) => outbox.recordDecision(decision(i), null).messageId);
  assert.equal(pub.status().droppedUnreported, 3);
  await broker.start();
  await waitFor('drop event', () => sub.on(`${BASE}/events`).length > 0);
  await waitFor('sessions', () => uniqueInOrder(sub.on(`${BASE}/sessions`).map((m) => m.payload)).length >= 10);
  assert.deepEqual(uniqueInOrder(sub.on(`${BASE}/sessions`).map((m) => m.payload)), ids.slice(3));
  const [ev] = sub.json<GateEvent>(`${BASE}/events`);
  assert.equal(ev?.type, 'outbox_dropped');
  assert.deepEqual(ev?.type === 'outbox_dropped' ? [ev.detail.count, ev.detail.firstAuditSeq, ev.detail.lastAuditSeq] : null, [3, 1, 3]);
  assert.equal(pub.status().droppedUnreported, 0);
});

void test('status: retained online on connect, retained offline on clean stop', async (t) => {
  const { broker, pub } = await setup(t);
  pub.start();
  await waitFor('publisher online', () => pub.status().state === 'online');
  const early = await Recorder.connect(broker.url, [`${BASE}/status`]);
  defer(t, () => early.close());
  await waitFor('retained online', () => early.on(`${BASE}/status`).length > 0);
  const online = early.on(`${BASE}/status`)[0];
  assert.equal(online?.retain, true);
  const p = JSON.parse(online?.payload ?? '{}') as StatusPayload;
  assert.deepEqual([p.state, p.version, p.eventId, p.modelId], ['online', identity.version, identity.eventId, identity.modelId]);
  assert.ok(!Number.isNaN(Date.parse(p.timestamp)));
  await pub.stop();
  assert.equal(pub.status().state, 'stopped');
  const late = await Recorder.connect(broker.url, [`${BASE}/status`]);
  defer(t, () => late.close());
  await waitFor('retained offline', () => late.on(`${BASE}/status`).length > 0);
  const off = late.json<StatusPayload>(`${BASE}/status`)[0];
  assert.deepEqual([off?.state, off?.reason, late.on(`${BASE}/status`)[0]?.retain], ['offline', 'stopped', true]);
});

void test('commands: open pulses the relay, is audited and answered; malformed and unknown get errors', async (t) => {
  const { broker, f, pub, lines } = await setup(t);
  const pulses: number[] = [];
  // Stands in for the relay (someone else's module): records each pulse.
  const relay = { pulse: (ms: number) => Promise.resolve(void pulses.push(ms)) };
  pub.onCommand('open', async (params) => {
    await relay.pulse(params.pulseMs ?? 800);
    return { opened: true };
  });
  pub.onCommand('sync', () => {
    throw new Error('sync source not configured');
  });
  const ops = await Recorder.connect(broker.url, [`${BASE}/cmd/+/response`, `${BASE}/events`]);
  defer(t, () => ops.close());
  // A retained command left on the broker would run on every connect: it is never taken.
  await ops.client.publishAsync(`${BASE}/cmd/open`, JSON.stringify({ id: 'req-retained', params: {} }), { qos: 1, retain: true });
  pub.start();
  await waitFor('publisher online', () => pub.status().state === 'online');
  // The subscription is made right after CONNACK; wait for it so no request lands before it.
  // Requests sent before the SUBACK would be lost by the broker, not by us.
  await waitFor('command subscription', () => lines.some((l) => l.includes('command topics subscribed')));
  const send = (name: string, payload: string) => ops.client.publishAsync(`${BASE}/cmd/${name}`, payload, { qos: 1 });
  await send('open', JSON.stringify({ id: 'req-1', params: { pulseMs: 500 } }));
  await waitFor('the answer to req-1', () => ops.messages.some((m) => m.topic.endsWith('/open/response')));
  // The same request again (a QoS 1 redelivery, a replayed message) must not open twice:
  // it is answered again with the first outcome.
  await send('open', JSON.stringify({ id: 'req-1', params: { pulseMs: 500 } }));
  await waitFor('req-1 answered twice', () => ops.messages.filter((m) => m.topic.endsWith('/open/response')).length >= 2);
  await send('open', 'open the door please');
  await send('explode', JSON.stringify({ id: 'req-3' }));
  await send('sync', JSON.stringify({ id: 'req-4' }));
  await send('reload', JSON.stringify({ id: 'req-5' }));
  await waitFor('six responses', () => ops.messages.filter((m) => m.topic.endsWith('/response')).length >= 6);
  const resp = (name: string) => ops.json<CommandResponse>(`${BASE}/cmd/${name}/response`);
  const [opened, again, malformed] = resp('open');
  assert.deepEqual(opened, { id: 'req-1', ok: true, result: { opened: true } });
  assert.deepEqual(again, opened, 'a repeated id gets the first outcome again');
  assert.deepEqual([malformed?.id, malformed?.ok], [null, false]);
  assert.match(malformed?.ok === false ? malformed.error : '', /malformed payload: not JSON/);
  assert.deepEqual(pulses, [500]);
  const unknown = resp('explode')[0];
  assert.deepEqual([unknown?.id, unknown?.ok], ['req-3', false]);
  assert.match(unknown?.ok === false ? unknown.error : '', /unknown command "explode"/);
  assert.deepEqual(resp('sync'), [{ id: 'req-4', ok: false, error: 'sync source not configured' }]);
  assert.match((resp('reload')[0] as { error: string }).error, /unknown command "reload"; available: open, sync/);
  // The remote open is in the audit chain and announced on events with its audit ref.
  const audit = f.db.prepare(`SELECT seq, payload FROM audit WHERE kind = 'remote_open'`).all() as { seq: number; payload: string }[];
  assert.equal(audit.length, 1);
  await waitFor('the retained command refused', () => lines.some((l) => l.includes('retained command ignored')));
  assert.ok(lines.some((l) => l.includes('repeated command request: answered again with its first outcome, not run')));
  // Clear the retained message so it does not linger on the broker.
  await ops.client.publishAsync(`${BASE}/cmd/open`, '', { qos: 1, retain: true });
  assert.equal((JSON.parse(audit[0]?.payload ?? '{}') as { requestId: string }).requestId, 'req-1');
  assert.equal(verifyAuditChain(f.db).ok, true);
  await waitFor('remote_open event', () => ops.on(`${BASE}/events`).length > 0);
  const ev = ops.json<GateEvent>(`${BASE}/events`)[0];
  assert.deepEqual(ev?.type === 'remote_open' ? [ev.detail.requestId, ev.detail.audit.seq] : null, ['req-1', audit[0]?.seq]);

  // After a restart (a new publisher on the same database) the id is still known: answered, not run.
  await pub.stop();
  const log2 = captureLogger();
  const pub2 = new MqttPublisher(testOptions(broker.url), { outbox: new Outbox(f.db, { identity, maxMessages: 1000 }), identity, log: log2.log });
  defer(t, () => pub2.stop());
  pub2.onCommand('open', async (params) => {
    await relay.pulse(params.pulseMs ?? 800);
    return { opened: true };
  });
  pub2.start();
  await waitFor('second publisher subscribed', () => log2.lines.some((l) => l.includes('command topics subscribed')));
  const answers = () => resp('open').filter((r) => r.id === 'req-1');
  const before = answers().length;
  await send('open', JSON.stringify({ id: 'req-1', params: { pulseMs: 500 } }));
  await waitFor('req-1 answered after the restart', () => answers().length > before);
  assert.deepEqual(answers().at(-1), opened);
  assert.deepEqual(pulses, [500], 'the door opened once in all');
});
