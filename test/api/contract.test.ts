// The response contract: what POST /identity returns on a match has exactly
// the shape and values of the example in shared/spec/identity-api.txt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv } from 'ajv';
import { SHARED } from '../paths.js';
import { sessionSchema } from '../../src/api/openapi.js';
import { specSession } from './fixtures/spec-session.js';
import { dataUrl, EVENT, startApi, testImage } from './helpers.js';

const SPEC = resolve(SHARED, 'spec', 'identity-api.txt');

/** The first JSON object after "session metadata:" in the spec text. */
function specExample(): unknown {
  const text = readFileSync(SPEC, 'utf8');
  const start = text.indexOf('{', text.indexOf('session metadata:'));
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return JSON.parse(text.slice(start, i + 1));
  }
  throw new Error('no example found in the spec');
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/**
 * Walk `expected` and `actual` together; report every path whose JSON type
 * differs or that one side lacks. Array elements are compared pairwise.
 */
function typeDiff(expected: unknown, actual: unknown, path = '$'): string[] {
  const ke = kind(expected);
  const ka = kind(actual);
  if (ke !== ka) return [`${path}: expected ${ke}, got ${ka}`];
  if (ke === 'array') {
    const e = expected as unknown[];
    const a = actual as unknown[];
    if (e.length !== a.length) return [`${path}: expected ${e.length} elements, got ${a.length}`];
    return e.flatMap((el, i) => typeDiff(el, a[i], `${path}[${i}]`));
  }
  if (ke === 'object') {
    const e = expected as Record<string, unknown>;
    const a = actual as Record<string, unknown>;
    const keys = new Set([...Object.keys(e), ...Object.keys(a)]);
    return [...keys].flatMap((k) => (!(k in a) ? [`${path}.${k}: missing`] : !(k in e) ? [`${path}.${k}: unexpected`] : typeDiff(e[k], a[k], `${path}.${k}`)));
  }
  return [];
}

void test('the session fixture is the spec example verbatim', (t) => {
  if (!existsSync(SPEC)) return t.skip(`spec not found at ${SPEC}`);
  assert.deepStrictEqual(specSession, specExample());
});

void test('the type-by-type walker notices a changed type, a missing and an extra field', () => {
  const changed = structuredClone(specSession) as unknown as Record<string, unknown>;
  changed.qrId = 42;
  delete changed.visitedOrder;
  changed.extra = true;
  assert.deepStrictEqual(typeDiff(specSession, changed).sort(), ['$.extra: unexpected', '$.qrId: expected string, got integer', '$.visitedOrder: missing']);
});

void test('POST /identity on a match answers 200 with the spec example session, field by field and type by type', async (t) => {
  const api = await startApi(t);
  const png = await testImage('png');
  const r = await api.identify({ event_id: EVENT, image_url: dataUrl(png) });
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.deepStrictEqual(typeDiff(specSession, r.json), []);
  assert.deepStrictEqual(r.json, specSession);
  // Spot checks that matter to clients: ints stay ints, floats stay floats, ordering is kept.
  const body = r.json as typeof specSession;
  assert.equal(body.activities[0]?.metadata.time, 1683730000000);
  assert.equal(body.metadata.geoLocation.latitude, 37.7749);
  assert.deepStrictEqual(body.visitedOrder, ['auth_789xyz123abc', 'kyc_456abc789xyz']);
  assert.deepStrictEqual(body.kyc[0]?.data.kyc.basicInfo.sex, { value: 'male', data: 'Male' });
});

void test('the service gets the event, the exact image bytes and the calling key name', async (t) => {
  const api = await startApi(t);
  const jpeg = await testImage('jpeg');
  const r = await api.identify({ event_id: EVENT, image_url: dataUrl(jpeg, 'image/jpeg') });
  assert.equal(r.status, 200, r.text);
  assert.equal(api.identity.calls.length, 1);
  const call = api.identity.calls[0];
  assert.equal(call?.eventId, EVENT);
  assert.ok(call?.image.equals(jpeg));
  assert.deepStrictEqual(call?.ctx, { source: 'api', apiKeyName: 'test-client' });
});

void test('fields the service adds (e.g. this verification appended to activities) are passed through', async (t) => {
  const api = await startApi(t);
  const session = structuredClone(specSession);
  session.activities.push({
    type: 'logs',
    userName: 'gate-agent',
    id: 'act_gate_1',
    metadata: { time: 1683730100000, data: 'face verified at gate', to: 'verified', from: 'completed', stepId: 'gate' },
  });
  api.identity.outcome = async () => ({ kind: 'match', session });
  const r = await api.identify({ event_id: EVENT, image_url: dataUrl(await testImage('webp'), 'image/webp') });
  assert.equal(r.status, 200, r.text);
  assert.deepStrictEqual(r.json, session);
});

void test('the OpenAPI session schema accepts the spec example and the response, and rejects a wrong type', async (t) => {
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  const validate = ajv.compile(sessionSchema);
  assert.ok(validate(specSession), ajv.errorsText(validate.errors));
  const api = await startApi(t);
  const r = await api.identify({ event_id: EVENT, image_url: dataUrl(await testImage('png')) });
  assert.ok(validate(r.json), ajv.errorsText(validate.errors));
  const broken = structuredClone(specSession) as unknown as { userInfo: Record<string, unknown> };
  broken.userInfo.email = 7;
  assert.equal(validate(broken), false);
  const missing = structuredClone(specSession) as unknown as Record<string, unknown>;
  delete missing.kyc;
  assert.equal(validate(missing), false);
});
