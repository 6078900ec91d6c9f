// The gate's options: defaults, the schema node for the config, and the checks the schema cannot make.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import type { SchemaNode } from '../../src/config/schema.js';
import { gatePolicyOptionsProblems, gatePolicyProblems, gatePolicySchema as policySchema } from '../../src/config/sections/gate.js';
import { GatePolicy, defaults, type GatePolicyOptions } from '../../src/gate/policy.js';

const gatePolicySchema: SchemaNode = policySchema;

const OPEN = { startsAt: null, endsAt: null };

// The defaults as a technician reads them in docs/gate.md, written out: the schema is built
// from `defaults`, so comparing the two with each other could never fail.
const DOCUMENTED = { votesNeeded: 2, votesWindow: 3, trackIou: 0.3, trackTtlMs: 1500, cooldownMs: 10000, antiPassbackMinutes: 0, earlyOpenMinutes: 0 };

test('every option has a description, type, the documented default, an example and a minimum', () => {
  const props = gatePolicySchema.properties ?? {};
  assert.deepEqual(Object.keys(props).sort(), Object.keys(defaults).sort());
  for (const [key, node] of Object.entries(props)) {
    assert.ok((node.description ?? '').length > 20, `${key} has a description`);
    assert.ok(node.type === 'integer' || node.type === 'number', `${key} is numeric`);
    assert.equal(node.default, DOCUMENTED[key as keyof typeof DOCUMENTED], `${key} default`);
    assert.equal(node.examples?.length, 1, `${key} has an example`);
    assert.ok(node.minimum !== undefined || node.exclusiveMinimum !== undefined, `${key} has a lower bound`);
  }
  assert.deepEqual(defaults, DOCUMENTED);
});

test('the schema fills in the defaults, accepts its examples and refuses bad values (as the config loader uses it)', () => {
  const validate = new Ajv({ allErrors: true, useDefaults: true, strict: false }).compile(gatePolicySchema);
  const filled: Record<string, unknown> = {};
  assert.equal(validate(filled), true);
  assert.deepEqual(filled, DOCUMENTED);
  const examples = Object.fromEntries(Object.entries(gatePolicySchema.properties ?? {}).map(([k, n]) => [k, n.examples?.[0]]));
  assert.equal(validate(examples), true, JSON.stringify(validate.errors));
  assert.equal(gatePolicyProblems(examples as unknown as GatePolicyOptions).length, 0);
  for (const bad of [{ votesNeeded: 0 }, { votesWindow: 2.5 }, { trackIou: 0 }, { trackIou: 1.5 }, { cooldownMs: -1 }, { antiPassbackMinutes: '5' }, { extra: 1 }]) {
    assert.equal(validate({ ...defaults, ...bad }), false, JSON.stringify(bad));
  }
});

test('the options are checked against the schema, then the rule across keys: every problem at once, with path, value and how to fix it', () => {
  assert.deepEqual(gatePolicyOptionsProblems(defaults), []);
  const problems = gatePolicyOptionsProblems({ ...defaults, votesWindow: 0, trackIou: 0, cooldownMs: 1.5, trackTtlMs: Number.NaN });
  const expected = [
    /^gate\.votesWindow: 0: must be >= 1; this key is: Frames of a track .*\(example: 3\)$/,
    /^gate\.trackIou: 0: must be > 0; this key is: Smallest box overlap .*\(example: 0\.3\)$/,
    /^gate\.trackTtlMs: NaN: must be integer; this key is: A track not detected .*\(example: 1500\)$/,
    /^gate\.cooldownMs: 1\.5: must be integer; this key is: After a grant or deny .*\(example: 10000\)$/,
  ];
  assert.equal(problems.length, expected.length, problems.join('\n'));
  problems.forEach((p, i) => assert.match(p, expected[i]!));
  const { cooldownMs: _, ...missing } = defaults;
  assert.deepEqual(
    gatePolicyOptionsProblems(missing as GatePolicyOptions).map((p) => p.split('; ')[0]),
    ['gate.cooldownMs: (missing): must be set'],
  );
  // The rule across keys is gatePolicyProblems' only business (types and ranges are the schema's).
  assert.deepEqual(gatePolicyProblems({ ...defaults, votesWindow: 0 }), [
    'gate.votesNeeded: 2: more than votesWindow (0), so no track could ever open the door; lower it or raise votesWindow',
  ]);
  assert.deepEqual(gatePolicyProblems({ ...defaults, votesNeeded: 4 }, 'doors.north'), [
    'doors.north.votesNeeded: 4: more than votesWindow (3), so no track could ever open the door; lower it or raise votesWindow',
  ]);
  assert.deepEqual(gatePolicyOptionsProblems({ ...defaults, votesNeeded: 4 }, 'doors.north'), gatePolicyProblems({ ...defaults, votesNeeded: 4 }, 'doors.north'));
});

test('the policy refuses bad options and a bad event instead of falling back to defaults', () => {
  assert.throws(() => new GatePolicy({ ...defaults, votesNeeded: 5 }, OPEN), /gate\.votesNeeded: 5: more than votesWindow/);
  assert.throws(() => new GatePolicy({ ...defaults, antiPassbackMinutes: -5 }, OPEN), /gate\.antiPassbackMinutes: -5/);
  assert.throws(() => new GatePolicy(defaults, { startsAt: 2000, endsAt: 1000 }), /event\.endsAt: 1000: before startsAt/);
  assert.throws(() => new GatePolicy(defaults, { startsAt: Number.NaN, endsAt: null }), /event\.startsAt/);
  const p = new GatePolicy(defaults, { startsAt: 1000, endsAt: 1000 });
  assert.throws(() => p.onFrame({ atMs: Number.NaN, faces: [], timings: { detectMs: 0, alignMs: 0, embedMs: 0, matchMs: 0 } }), /frame atMs/);
});
