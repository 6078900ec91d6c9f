// The fleet's pure rules: topics and payloads, the conflict rule, whether a gate hears its
// peers, Home Assistant discovery payloads, and the policy's site-wide entries and offline rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareEntries, conflictOf, conflictWindowMs, type EntryRef } from '../../src/fleet/conflict.js';
import { discoveryMessages, nodeIdOf } from '../../src/fleet/discovery.js';
import { linkState } from '../../src/fleet/link-state.js';
import { fleetDefaults, fleetProblems } from '../../src/config/sections/fleet.js';
import { fleetRows } from '../../src/fleet/status-reader.js';
import { buildEntry, fleetTopics, gateOfStatusTopic, parseEntry, siteRootOf } from '../../src/fleet/topics.js';
import { GatePolicy, defaults } from '../../src/gate/policy.js';
import type { FaceInput } from '../../src/gate/types.js';

const ROOT = 'securegate/s1';
const NOW = Date.now();
const MIN = 60_000;

test('an entry round-trips through its topic; ids with topic characters stay one level; a payload that disagrees with its topic is refused', () => {
  const e = buildEntry({ siteId: 's1', gateId: 'lane/1', eventId: 'gala', userId: 'a+b#c', enteredAtMs: NOW, seq: 7, offline: false });
  const topic = fleetTopics.entry(ROOT, e);
  assert.equal(topic, 'securegate/s1/fleet/entries/gala/lane%2F1/a%2Bb%23c');
  assert.deepEqual(parseEntry(ROOT, topic, JSON.stringify(e)), { ok: true, value: e });
  const other = parseEntry(ROOT, fleetTopics.entry(ROOT, { ...e, userId: 'someone-else' }), JSON.stringify(e));
  assert.equal(other.ok, false);
  assert.match(other.ok ? '' : other.error, /its payload names .*a%2Bb%23c; refused/);
  for (const [bad, why] of [['nope', /not JSON/], ['[]', /not a JSON object/], [JSON.stringify({ ...e, v: 2 }), /format version 2/], [JSON.stringify({ ...e, seq: 0 }), /seq 0/], [JSON.stringify({ ...e, enteredAtMs: 'x' }), /enteredAtMs/]] as const) {
    const r = parseEntry(ROOT, topic, bad);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.error, why);
  }
  assert.equal(siteRootOf('', 's1'), ROOT);
  assert.equal(siteRootOf('venue/x/', 's1'), 'venue/x');
  assert.equal(gateOfStatusTopic(ROOT, 'securegate/s1/lane-a/status'), 'lane-a');
  assert.equal(gateOfStatusTopic(ROOT, 'securegate/s1/fleet/status'), null);
});

test('conflict rule: within the window both stand, the earlier (then the smaller gateId) is the entry, the same on every gate', () => {
  const window = conflictWindowMs({ antiPassbackMinutes: 60, cooldownMs: 10_000 });
  assert.equal(window, 60 * MIN);
  assert.equal(conflictWindowMs({ antiPassbackMinutes: 0, cooldownMs: 10_000 }), 10_000);
  const a: EntryRef = { gateId: 'lane-a', enteredAtMs: NOW, seq: 4 };
  const b: EntryRef = { gateId: 'lane-b', enteredAtMs: NOW + 40, seq: 1 };
  // Gate A hears B's entry, gate B hears A's: the same outcome.
  assert.deepEqual(conflictOf(b, [a], window), { kept: a, conflict: b });
  assert.deepEqual(conflictOf(a, [b], window), { kept: a, conflict: b });
  // The same millisecond: the smaller gate id.
  const c: EntryRef = { gateId: 'lane-0', enteredAtMs: NOW, seq: 9 };
  assert.deepEqual(conflictOf(a, [c], window), { kept: c, conflict: a });
  assert.ok(compareEntries(c, a) < 0);
  // Outside the window, the same gate, or repeats allowed: no conflict.
  assert.equal(conflictOf({ ...b, enteredAtMs: NOW + 61 * MIN }, [a], window), null);
  assert.equal(conflictOf({ ...a, seq: 5 }, [a], window), null);
  assert.equal(conflictOf(b, [a], 0), null);
});

test('link state: disconnected, a silent peer (status online, no heartbeat), heard peers; stopped peers are not expected', () => {
  const base = { connected: true, connectedSinceMono: 0, connectionError: null, nowMono: 10_000, peerSilenceMs: 3000 };
  assert.deepEqual(linkState({ ...base, connected: false, connectionError: 'broker unreachable: connection refused', peers: [{ gateId: 'b', expected: true, lastHeardMono: 9000 }] }), {
    hearing: false, silentPeers: ['b'], heardPeers: [], detail: "cannot hear the site's other gates: broker unreachable: connection refused",
  });
  const s = linkState({ ...base, peers: [{ gateId: 'c', expected: true, lastHeardMono: 6000 }, { gateId: 'b', expected: true, lastHeardMono: 9500 }, { gateId: 'd', expected: false, lastHeardMono: null }] });
  assert.deepEqual([s.hearing, s.silentPeers, s.heardPeers], [false, ['c'], ['b']]);
  assert.match(s.detail, /gate\(s\) c silent for more than 3000 ms/);
  // Just connected: a peer gets peerSilenceMs from the connection to be heard.
  assert.equal(linkState({ ...base, connectedSinceMono: 9000, peers: [{ gateId: 'b', expected: true, lastHeardMono: null }] }).hearing, true);
  assert.equal(linkState({ ...base, peers: [] }).detail, 'connected; no other gate of the site online');
});

test('Home Assistant discovery: four entities on the gate\'s own topics, the button sends a unique open request', () => {
  const msgs = discoveryMessages({ prefix: 'homeassistant', siteId: 's1', gateId: 'lane a', baseTopic: 'securegate/s1/lane a', version: '1.2.3' });
  const node = nodeIdOf('s1', 'lane a');
  assert.equal(node, 'securegate_s1_lane_a');
  assert.deepEqual(msgs.map((m) => m.topic), [`homeassistant/binary_sensor/${node}/status/config`, `homeassistant/sensor/${node}/last_decision/config`, `homeassistant/binary_sensor/${node}/relay/config`, `homeassistant/button/${node}/open/config`]);
  const ids = new Set(msgs.map((m) => m.payload.unique_id));
  assert.equal(ids.size, 4);
  const button = msgs[3]!.payload;
  assert.equal(button.command_topic, 'securegate/s1/lane a/cmd/open');
  assert.match(String(button.command_template), /"id": "ha-\{\{ now\(\)\.timestamp\(\) \}\}"/);
  // Nothing personal in any entity: only the status topic and the command topic are read or written.
  for (const m of msgs) for (const [k, v] of Object.entries(m.payload)) if (k.endsWith('_topic')) assert.match(String(v), /^securegate\/s1\/lane a\/(status|cmd\/open)$/);
});

test('config rules across sections: fleet needs a broker, heartbeats well inside the silence, gate id "fleet" reserved', () => {
  const on = { ...fleetDefaults, enabled: true, homeAssistant: { enabled: true, discoveryPrefix: 'homeassistant' } };
  const p = fleetProblems(on, { brokerUrl: null, gateId: 'fleet' });
  assert.equal(p.length, 3);
  assert.match(p[0]!, /^fleet\.enabled: true: needs the site's broker; set mqtt\.brokerUrl/);
  assert.match(p[1]!, /^fleet\.homeAssistant\.enabled: true: needs a broker/);
  assert.match(p[2]!, /^gateId: "fleet": reserved/);
  assert.match(fleetProblems({ ...on, heartbeatMs: 6000 }, { brokerUrl: 'mqtt://x', gateId: 'a' })[0]!, /^fleet\.heartbeatMs: 6000: more than half of peerSilenceMs/);
  assert.deepEqual(fleetProblems(fleetDefaults, { brokerUrl: null, gateId: 'fleet' }), []);
});

test('fleet status rows: sorted, offline gates kept with their reason, a payload that is not a status reported', () => {
  const { rows, problems } = fleetRows(new Map<string, unknown>([
    ['b', { state: 'offline', reason: 'connection lost', timestamp: 't', gateId: 'b', eventId: 'gala', version: '1' }],
    ['a', { state: 'online', timestamp: 't', eventId: 'gala', version: '1', health: { ok: false, summary: '', faults: [{ part: 'fleet', detail: 'x', since: 't' }] }, detail: { camera: { description: 'd', state: 'running' }, relay: { driver: 'sim', active: true }, outboxDepth: 3, lastDecision: { at: 'T', kind: 'grant', reason: 'granted' }, fleet: { hearing: false, offlineRule: 'deny-repeat', detail: '', peerEntries: 0, unpublished: 1 } } }],
    ['c', 'hello'],
  ]));
  assert.deepEqual(rows.map((r) => [r.gateId, r.online, r.reason, r.relay, r.outboxDepth, r.lastDecision, r.fleet, r.faults]), [
    ['a', true, null, 'sim (open)', 3, 'grant granted', 'NOT hearing peers (deny-repeat)', ['fleet: x']],
    ['b', false, 'connection lost', null, null, null, null, []],
  ]);
  assert.match(problems[0]!, /^c: its retained status is not a gate status/);
});

// The policy: an entry heard from another gate counts like its own; deny-repeat refuses any known entry.
const face = (userId: string): FaceInput => {
  const c = { userId, similarity: 0.7, embeddingId: 1 };
  return { box: [300, 200, 400, 300], interEyePx: 60, yawDeg: 3, sharpness: 80, qualityProblem: null, match: { decision: 'match', reason: 'matched', match: c, best: c, secondBest: null } };
};
function approach(p: GatePolicy, userId: string, atMs: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < 3; i++) out.push(...p.onFrame({ atMs: atMs + i * 100, faces: [face(userId)], timings: { detectMs: 1, alignMs: 1, embedMs: 1, matchMs: 1 } }).map((d) => `${d.kind}:${d.reason}`));
  out.push(...p.tick(atMs + 10_000).map((d) => `${d.kind}:${d.reason}`));
  return out;
}

test('policy: a peer\'s entry denies within the anti-passback window; deny-repeat refuses an older entry only while set', () => {
  const p = new GatePolicy({ ...defaults, cooldownMs: 0, antiPassbackMinutes: 60 }, { startsAt: null, endsAt: null });
  p.noteEntry('obama', NOW - 5 * MIN);
  assert.deepEqual(approach(p, 'obama', NOW), ['deny:anti_passback']);
  // An older entry than the one known changes nothing.
  p.noteEntry('kit', NOW - 90 * MIN);
  p.noteEntry('kit', NOW - 120 * MIN);
  p.denyRepeats('this gate cannot hear the site\'s other gates');
  assert.deepEqual(approach(p, 'kit', NOW), ['deny:peers_unreachable']);
  assert.deepEqual(approach(p, 'zoe', NOW + 20_000), ['grant:granted'], 'a first entry still opens the door');
  p.denyRepeats(null);
  assert.deepEqual(approach(p, 'kit', NOW + 40_000), ['grant:granted']);
  assert.throws(() => p.noteEntry('x', NaN), /must be a finite time/);
});
