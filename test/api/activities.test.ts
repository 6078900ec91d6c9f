// This gate's verifications appended to a session are capped; the server's are kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capGateActivities } from '../../src/app/identity.js';
import type { Activity } from '../../src/store/session.js';

const act = (id: string, userName: string): Activity => ({ type: 'logs', userName, id, metadata: { time: 0, data: '', to: 'processing', from: 'processing', stepId: 'authentication' } });

test('only the oldest of this gate\'s own activities are dropped past the cap', () => {
  const list = [act('s1', 'Compliance Agent'), act('g1', 'gate g'), act('g2', 'gate g'), act('s2', 'Compliance Agent'), act('o1', 'gate other'), act('g3', 'gate g')];
  assert.deepEqual(capGateActivities(list, 'gate g', 2).map((a) => a.id), ['s1', 'g2', 's2', 'o1', 'g3']);
  assert.equal(capGateActivities(list, 'gate g', 3), list, 'under the cap: unchanged');
  assert.deepEqual(capGateActivities(list, 'gate g', 0).map((a) => a.id), ['s1', 's2', 'o1']);
});
