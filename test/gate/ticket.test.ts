// The ticket logic without I/O: the ticket window, and the policy's verify-mode reasons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load.js';
import { GatePolicy, defaults } from '../../src/gate/policy.js';
import { TicketWindow } from '../../src/gate/ticket.js';
import type { Box, FaceInput, TicketCheck } from '../../src/gate/types.js';
import type { MatchResult } from '../../src/match/decide.js';

test('a ticket is valid for the window after it was last seen, the newest ticket wins, a grant uses it up', () => {
  const w = new TicketWindow(10_000);
  assert.equal(w.current(0), null);
  assert.deepEqual(w.show('qr-a', 'alice', 1000), { kind: 'ticket', userId: 'alice', fresh: true });
  assert.deepEqual(w.show('qr-a', 'alice', 2000), { kind: 'ticket', userId: 'alice', fresh: false }, 'held up over several frames: one ticket');
  assert.equal(w.current(11_999)?.userId, 'alice', 'the window runs from the last time it was seen');
  assert.equal(w.current(12_000), null, 'and ends windowMs after it');
  w.show('qr-a', 'alice', 20_000);
  w.show('qr-b', 'bob', 21_000);
  assert.equal(w.current(21_000)?.userId, 'bob');
  w.consume('alice');
  assert.equal(w.current(21_000)?.userId, 'bob', 'consuming someone else\'s ticket changes nothing');
  w.consume('bob');
  assert.equal(w.current(21_000), null);
  assert.deepEqual(w.show('qr-b', 'bob', 22_000), { kind: 'ticket', userId: 'bob', fresh: true }, 'shown again after use: a new ticket');
  assert.throws(() => new TicketWindow(0), /positive/);
});

test('an unknown QR code is reported once per window and leaves the valid ticket alone', () => {
  const w = new TicketWindow(10_000);
  w.show('qr-a', 'alice', 0);
  assert.deepEqual(w.show('junk', null, 100), { kind: 'unknown', report: true });
  assert.deepEqual(w.show('junk', null, 200), { kind: 'unknown', report: false });
  assert.deepEqual(w.show('other-junk', null, 300), { kind: 'unknown', report: true });
  assert.equal(w.current(400)?.userId, 'alice');
  assert.deepEqual(w.show('junk', null, 10_100), { kind: 'unknown', report: true }, 'again after the window');
});

const box = (i: number): Box => [300 + i, 200, 400 + i, 300];
const timings = { detectMs: 1, alignMs: 1, embedMs: 1, matchMs: 1 };
const oneToOne = (userId: string, similarity: number, threshold = 0.45): MatchResult => {
  const c = { userId, similarity, embeddingId: 1 };
  return similarity >= threshold ? { decision: 'match', reason: 'matched', match: c, best: c, secondBest: null } : { decision: 'unknown', reason: 'below_threshold', match: null, best: c, secondBest: null };
};
const face = (i: number, match: MatchResult | null, ticket: TicketCheck): FaceInput => ({ box: box(i), interEyePx: 60, yawDeg: 0, sharpness: 100, qualityProblem: null, match, ticket });

function run(faces: FaceInput[]) {
  const p = new GatePolicy({ ...defaults }, { startsAt: null, endsAt: null });
  const out = faces.flatMap((f, i) => p.onFrame({ atMs: 1000 + i * 100, faces: [f], timings }));
  return [...out, ...p.tick(1_000_000)];
}

test('verify mode: a face without a ticket is reported once as ticket_required, never granted', () => {
  const d = run([0, 1, 2, 3, 4].map((i) => face(i, null, { kind: 'required' })));
  assert.deepEqual(d.map((x) => [x.kind, x.reason, x.userId]), [['deny', 'ticket_required', null]]);
  assert.match(d[0]!.detail ?? '', /show the ticket's QR code/);
});

test('verify mode: a face that fails 1:1 against the ticket is ticket_face_mismatch about the ticket\'s attendee, with its score and the verify threshold', () => {
  const t: TicketCheck = { kind: 'shown', userId: 'alice', threshold: 0.45 };
  const d = run([0, 1, 2, 3].map((i) => face(i, oneToOne('alice', 0.1 + i / 100), t)));
  assert.deepEqual(d.map((x) => [x.kind, x.reason, x.userId]), [['deny', 'ticket_face_mismatch', 'alice']]);
  // Reported at the votesWindow-th no-match frame: the best 1:1 score so far.
  assert.ok(Math.abs(d[0]!.similarity! - 0.12) < 1e-9, String(d[0]!.similarity));
  assert.equal(d[0]!.threshold, 0.45);
});

test('verify mode: the ticket\'s attendee verified 1:1 is granted, the decision carries the verify threshold', () => {
  const t: TicketCheck = { kind: 'shown', userId: 'alice', threshold: 0.45 };
  const d = run([face(0, null, { kind: 'required' }), face(1, oneToOne('alice', 0.6), t), face(2, oneToOne('alice', 0.62), t)]);
  assert.deepEqual(d.map((x) => [x.kind, x.reason, x.userId, x.threshold]), [['grant', 'granted', 'alice', 0.45]]);
});

test('gate.mode and gate.ticketWindowMs are validated, default identify', () => {
  const c = loadConfig({ file: null, env: {} });
  assert.equal(c.gate.mode, 'identify');
  assert.equal(c.gate.ticketWindowMs, 10_000);
  assert.throws(() => loadConfig({ file: null, env: { GATE_AGENT__gate__mode: '"ticket"', GATE_AGENT__gate__ticketWindowMs: '5' } }), (e: Error) => /gate\.mode.*identify/s.test(e.message) && /gate\.ticketWindowMs/.test(e.message));
});
