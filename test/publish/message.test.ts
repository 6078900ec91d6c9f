// Pure payload rules: contract shape, no biometrics, command parsing, backoff.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildSessionMessage, stripBiometrics } from '../../src/publish/message.js';
import { parseCommandRequest } from '../../src/publish/commands.js';
import { backoffMs, baseTopicOf } from '../../src/publish/options.js';
import { canonicalJson } from '../../src/publish/audit.js';
import { IDENTITY_SESSION_KEYS, commandNameOf, type IdentitySession } from '../../src/publish/topics.js';
import { decision, identity, sampleSession } from './helpers.js';

const ctx = { ...identity, messageId: '3f2c8a4e-0000-4000-8000-000000000001', audit: { seq: 7, hash: 'h7', prevHash: 'h6' } };

void test('a match carries exactly the contract keys plus gate, and no biometrics anywhere', () => {
  const vector = Array.from({ length: 512 }, (_, i) => i / 512);
  const dirty = {
    ...sampleSession(),
    embedding: vector,
    faceImage: Buffer.from([0xff, 0xd8]),
    internalNote: 'not in the contract',
    userInfo: { ...sampleSession().userInfo, faceEmbedding: new Float32Array(512), thumbnail: 'x' },
    metadata: { ...sampleSession().metadata, snapshot: `data:image/jpeg;base64,${'A'.repeat(100)}`, vec: vector },
  } as unknown as IdentitySession;
  const msg = buildSessionMessage(decision(1), dirty, ctx);
  assert.deepEqual(Object.keys(msg), [...IDENTITY_SESSION_KEYS, 'gate']);
  const text = JSON.stringify(msg);
  for (const bad of ['embedding', 'Embedding', 'faceImage', 'thumbnail', 'data:image', 'internalNote', '"vec"']) {
    assert.ok(!text.includes(bad), `${bad} leaked: ${text.slice(0, 200)}`);
  }
  // Contract content survives untouched, URLs to images included.
  const clean = sampleSession();
  assert.deepEqual((msg as IdentitySession).kyc, clean.kyc);
  assert.deepEqual((msg as IdentitySession).authentication, clean.authentication);
  assert.equal((msg as IdentitySession).userInfo.userId, clean.userInfo.userId);
  assert.deepEqual(msg.gate, {
    messageId: ctx.messageId,
    gateId: 'g1',
    siteId: 's1',
    eventId: 'evt_42',
    decision: 'granted',
    reason: 'match',
    similarity: decision(1).similarity,
    timingsMs: { detect: 4.1, embed: 9.7, match: 0.3 },
    timestamp: new Date(decision(1).atMs).toISOString(),
    modelId: 'arcface-r100',
    audit: { seq: 7, hash: 'h7', prevHash: 'h6' },
  });
});

void test('an unknown face is the gate block alone', () => {
  const msg = buildSessionMessage(decision(2, 'unknown'), null, ctx);
  assert.deepEqual(Object.keys(msg), ['gate']);
  assert.equal(msg.gate.decision, 'unknown');
  assert.equal(msg.gate.similarity, null);
});

void test('stripBiometrics keeps short number arrays and plain values', () => {
  assert.deepEqual(stripBiometrics({ geo: [37.7, -122.4], n: 1, s: 'x', z: null }), { geo: [37.7, -122.4], n: 1, s: 'x', z: null });
  assert.equal(stripBiometrics(Buffer.from('x')), undefined);
  assert.deepEqual(stripBiometrics({ a: [{ embeddingVector: [1] }] }), { a: [{}] });
});

void test('command requests: malformed payloads are reported with what to send', () => {
  assert.deepEqual(parseCommandRequest('{"id":"r1","params":{"pulseMs":500}}'), { ok: true, id: 'r1', params: { pulseMs: 500 } });
  assert.deepEqual(parseCommandRequest('{"id":7}'), { ok: true, id: '7', params: {} });
  const notJson = parseCommandRequest('open please');
  assert.equal(notJson.ok, false);
  assert.equal(notJson.id, null);
  assert.equal(parseCommandRequest('[1]').ok, false);
  assert.equal(parseCommandRequest('{"params":{}}').ok, false);
  const badParams = parseCommandRequest('{"id":"r2","params":[1]}');
  assert.deepEqual(badParams.ok ? null : [badParams.id, /params/.test(badParams.error)], ['r2', true]);
});

void test('topics: base defaults to securegate/<site>/<gate>; command names are one level', () => {
  assert.equal(baseTopicOf({ baseTopic: '' }, identity), 'securegate/s1/g1');
  assert.equal(baseTopicOf({ baseTopic: 'x/y/' }, identity), 'x/y');
  assert.equal(commandNameOf('b', 'b/cmd/open'), 'open');
  assert.equal(commandNameOf('b', 'b/cmd/open/response'), null);
  assert.equal(commandNameOf('b', 'b/sessions'), null);
});

void test('backoff doubles from min and stops at max; jitter only shortens', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((a) => backoffMs(a, 1000, 10_000)), [1000, 2000, 4000, 8000, 10_000, 10_000]);
  assert.ok(backoffMs(3, 1000, 10_000, 0.99) < 4000 && backoffMs(3, 1000, 10_000, 0.99) >= 3000);
  assert.equal(backoffMs(1000, 1000, 60_000), 60_000);
});

void test('canonical JSON sorts keys at every level', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}');
});
