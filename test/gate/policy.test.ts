// The gate's decision rules on synthetic frames: who gets in, what is reported, how often.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatePolicy, defaults, entryOnMonotonic, type GatePolicyOptions, type GatePolicyRuntime } from '../../src/gate/policy.js';
import type { Box, FaceInput, FrameInput, GateDecision, GateEvent } from '../../src/gate/types.js';
import type { MatchResult } from '../../src/match/decide.js';

// The policy is pure and takes every time as an argument: T0 is today's whole hour, not a calendar date.
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000;
const FRAME_MS = 100;
const MIN = 60_000;
const OPEN: GateEvent = { startsAt: null, endsAt: null };
const TIMINGS = { detectMs: 11, alignMs: 2, embedMs: 7, matchMs: 0.5 };

const matched = (userId: string, similarity = 0.62): MatchResult => {
  const c = { userId, similarity, embeddingId: 1 };
  return { decision: 'match', reason: 'matched', match: c, best: c, secondBest: null };
};
const stranger = (nearest = 'zoe', similarity = 0.2): MatchResult => ({
  decision: 'unknown', reason: 'below_threshold', match: null, best: { userId: nearest, similarity, embeddingId: 2 }, secondBest: null,
});
const between = (a: string, b: string): MatchResult => ({
  decision: 'unknown', reason: 'below_margin', match: null,
  best: { userId: a, similarity: 0.5, embeddingId: 3 }, secondBest: { userId: b, similarity: 0.48, embeddingId: 4 },
});

/** What one face says in one frame; the box comes from the person's position. */
type Say = MatchResult | null | { lowQuality: string } | { match: MatchResult | null; live: boolean; score?: number };

function face(box: Box, say: Say): FaceInput {
  const base: FaceInput = { box, interEyePx: 60, yawDeg: 3, sharpness: 80, qualityProblem: null, match: null };
  if (say === null) return base;
  if ('lowQuality' in say) return { ...base, qualityProblem: say.lowQuality, match: matched('alice') };
  if ('live' in say) return { ...base, match: say.match, liveness: { live: say.live, score: say.score ?? (say.live ? 0.9 : 0.1) } };
  return { ...base, match: say };
}

/** A person walking up: the face grows and drifts a little each frame. */
const walking = (i: number, x = 300): Box => [x + i * 2, 200 - i, x + 100 + i * 4, 300 + i * 2];
/** Someone standing elsewhere in the frame. */
const standing = (i: number, x: number): Box => [x + (i % 2), 200, x + 100 + (i % 2), 300];

class Gate {
  readonly policy: GatePolicy;
  readonly log: GateDecision[] = [];
  constructor(opts: Partial<GatePolicyOptions> & GatePolicyRuntime = {}, event: GateEvent = OPEN) {
    this.policy = new GatePolicy({ ...defaults, ...opts }, event);
  }

  frame(atMs: number, faces: FaceInput[], nowMs?: number): GateDecision[] {
    const f: FrameInput = { atMs, faces, timings: TIMINGS };
    const d = nowMs === undefined ? this.policy.onFrame(f) : this.policy.onFrame(f, nowMs);
    this.log.push(...d);
    return d;
  }

  /** One person, one face per frame, FRAME_MS apart from startMs; returns the decisions of these frames. */
  walk(startMs: number, says: readonly Say[], box: (i: number) => Box = walking): GateDecision[] {
    return says.flatMap((say, i) => this.frame(startMs + i * FRAME_MS, [face(box(i), say)]));
  }

  tick(nowMs: number): GateDecision[] {
    const d = this.policy.tick(nowMs);
    this.log.push(...d);
    return d;
  }
}

const times = <T>(n: number, x: T): T[] => Array.from({ length: n }, () => x);
const brief = (ds: GateDecision[]): string[] => ds.map((d) => `${d.kind}:${d.reason}:${d.userId ?? '-'}`);
/** Far enough after a walk for its track to have expired. */
const after = (startMs: number, frames: number): number => startMs + frames * FRAME_MS + defaults.trackTtlMs + 1000;

test('an enrolled person walking up over 10 frames is granted exactly once, on the second matching frame', () => {
  let clock = 0;
  const g = new Gate({ perfNow: () => (clock += 0.25) });
  const d = g.walk(T0, times(10, matched('alice', 0.6)).map((m, i) => (i === 1 ? matched('alice', 0.71) : m)));
  assert.deepEqual(brief(d), ['grant:granted:alice']);
  const grant = d[0]!;
  assert.equal(grant.atMs, T0 + FRAME_MS);
  assert.equal(grant.decidedAtMs, T0 + FRAME_MS);
  assert.equal(grant.similarity, 0.71);
  assert.equal(grant.votes, 2);
  assert.equal(grant.frames, 2);
  assert.equal(grant.detail, null);
  assert.deepEqual(grant.timings, { ...TIMINGS, decideMs: 0.25 });
  assert.deepEqual(brief(g.tick(after(T0, 10))), [], 'a granted track reports nothing when it ends');
  assert.equal(g.policy.activeTracks, 0);
});

test('decidedAtMs is the time onFrame was called with; atMs stays the capture time', () => {
  const g = new Gate();
  const d = [...g.frame(T0, [face(walking(0), matched('alice'))]), ...g.frame(T0 + 100, [face(walking(1), matched('alice'))], T0 + 180)];
  assert.equal(d.length, 1);
  assert.equal(d[0]!.atMs, T0 + 100);
  assert.equal(d[0]!.decidedAtMs, T0 + 180);
});

test('votesNeeded 3 of votesWindow 5: granted on the third match even with misses between', () => {
  const g = new Gate({ votesNeeded: 3, votesWindow: 5 });
  const d = g.walk(T0, [matched('alice'), stranger(), matched('alice'), null, matched('alice'), matched('alice')]);
  assert.deepEqual(brief(d), ['grant:granted:alice']);
  assert.equal(d[0]!.atMs, T0 + 4 * FRAME_MS);
});

test('a stranger standing 30 frames is reported once as unknown_face, after votesWindow frames', () => {
  const g = new Gate();
  const d = g.walk(T0, times(30, stranger('zoe', 0.21)));
  assert.deepEqual(brief(d), ['deny:unknown_face:-']);
  assert.equal(d[0]!.atMs, T0 + 2 * FRAME_MS);
  assert.equal(d[0]!.similarity, 0.21);
  assert.deepEqual(d[0]!.nearest, { userId: 'zoe', similarity: 0.21 });
  assert.deepEqual(brief(g.tick(after(T0, 30))), []);
  assert.deepEqual(brief(g.log), ['deny:unknown_face:-']);
});

test('a stranger seen for fewer than votesWindow frames is reported once when the track ends', () => {
  const g = new Gate();
  assert.deepEqual(g.walk(T0, [stranger(), stranger()]), []);
  assert.deepEqual(g.tick(T0 + FRAME_MS + defaults.trackTtlMs), [], 'not yet expired at exactly trackTtlMs');
  const d = g.tick(T0 + FRAME_MS + defaults.trackTtlMs + 1);
  assert.deepEqual(brief(d), ['deny:unknown_face:-']);
  assert.equal(d[0]!.atMs, T0 + FRAME_MS, 'atMs is the last frame of the track');
  assert.equal(d[0]!.decidedAtMs, T0 + FRAME_MS + defaults.trackTtlMs + 1);
  assert.equal(d[0]!.frames, 2);
  assert.deepEqual(g.tick(T0 + 60_000), []);
});

test('the report of an ended track comes with the next frame when no tick came between', () => {
  const g = new Gate();
  g.walk(T0, [stranger()]);
  const d = g.frame(T0 + 5000, []);
  assert.deepEqual(brief(d), ['deny:unknown_face:-']);
});

test('a face close to two attendees is reported once as below_margin, naming neither', () => {
  const g = new Gate();
  const d = g.walk(T0, times(10, between('alice', 'bella')));
  assert.deepEqual(brief(d), ['deny:below_margin:-']);
  assert.deepEqual(d[0]!.nearest, { userId: 'alice', similarity: 0.5 });
});

test('empty frames and frames of unscored faces lead to nothing, ever', () => {
  const g = new Gate();
  for (let i = 0; i < 30; i++) g.frame(T0 + i * FRAME_MS, []);
  g.walk(T0 + 3000, times(10, null));
  g.tick(after(T0 + 3000, 10));
  assert.deepEqual(g.log, []);
  assert.equal(g.policy.activeTracks, 0);
});

test('two people in the frame at once: two grants with different track ids', () => {
  const g = new Gate();
  for (let i = 0; i < 10; i++) {
    g.frame(T0 + i * FRAME_MS, [face(walking(i, 100), matched('alice')), face(walking(i, 600), matched('bob'))]);
  }
  assert.deepEqual(brief(g.log).sort(), ['grant:granted:alice', 'grant:granted:bob']);
  assert.notEqual(g.log[0]!.trackId, g.log[1]!.trackId);
  assert.equal(g.log[0]!.atMs, g.log[1]!.atMs);
});

test('an enrolled person next to a stranger: one grant and one unknown_face, on different tracks', () => {
  const g = new Gate();
  for (let i = 0; i < 10; i++) {
    g.frame(T0 + i * FRAME_MS, [face(standing(i, 100), stranger()), face(walking(i, 600), matched('alice'))]);
  }
  assert.deepEqual(brief(g.log), ['grant:granted:alice', 'deny:unknown_face:-']);
  assert.notEqual(g.log[0]!.trackId, g.log[1]!.trackId);
});

test('one match each of two attendees in a window is no vote for either: A,B,x repeated never opens', () => {
  const g = new Gate();
  const says = Array.from({ length: 30 }, (_, i) => [matched('alice'), matched('bob'), stranger()][i % 3]!);
  g.walk(T0, says);
  g.tick(after(T0, 30));
  assert.deepEqual(brief(g.log), ['deny:unknown_face:-'], 'reported once as unknown, never granted');
});

test('flicker A,B,A,B with 2 of 2: never granted', () => {
  const g = new Gate({ votesNeeded: 2, votesWindow: 2 });
  g.walk(T0, Array.from({ length: 20 }, (_, i) => matched(i % 2 ? 'bob' : 'alice')));
  assert.equal(g.log.filter((d) => d.kind === 'grant').length, 0);
});

test('flicker A,B,A with 2 of 3: A has two votes in the window, which is a grant by design', () => {
  const g = new Gate();
  const d = g.walk(T0, [matched('alice'), matched('bob'), matched('alice'), matched('bob')]);
  assert.deepEqual(brief(d), ['grant:granted:alice']);
  assert.equal(d[0]!.votes, 2);
});

test('votes do not carry over between tracks: two single matches far apart are two unknowns, no grant', () => {
  const g = new Gate();
  g.walk(T0, [matched('alice')]);
  g.walk(T0 + 200, [matched('alice')], (i) => standing(i, 900));
  g.tick(after(T0, 3));
  assert.deepEqual(brief(g.log), ['deny:unknown_face:-', 'deny:unknown_face:-']);
  assert.notEqual(g.log[0]!.trackId, g.log[1]!.trackId);
  assert.deepEqual(g.log[0]!.nearest, { userId: 'alice', similarity: 0.62 });
});

test('a gap longer than trackTtlMs ends the track: the votes before it do not count after it', () => {
  const g = new Gate();
  g.walk(T0, [matched('alice')]);
  const d = g.walk(T0 + defaults.trackTtlMs + 101, [matched('alice')]);
  assert.deepEqual(brief(d), ['deny:unknown_face:-'], 'the first track ended with one vote');
  assert.deepEqual(brief(g.walk(T0 + defaults.trackTtlMs + 201, [matched('alice')], (i) => walking(i + 1))), ['grant:granted:alice']);
  assert.notEqual(g.log[0]!.trackId, g.log[1]!.trackId);
});

test('the track id stays the same over small motions and missed frames within trackTtlMs', () => {
  const g = new Gate({ votesNeeded: 4, votesWindow: 5 });
  g.walk(T0, [matched('alice'), null, null, matched('alice')]);
  // 1.4 s without a detection, then the face continues nearby.
  g.walk(T0 + 300 + 1400, times(3, matched('alice')), (i) => walking(i + 4));
  assert.deepEqual(brief(g.log), ['grant:granted:alice']);
  assert.equal(g.log[0]!.trackId, 1);
  assert.equal(g.log[0]!.frames, 7);
});

test('cooldown: a person staying 20 frames, lost and re-found by the tracker, is granted once', () => {
  const g = new Gate();
  g.walk(T0, times(20, matched('alice')));
  // The tracker loses her (a jump) within the cooldown: a new track, same approach.
  g.walk(T0 + 2000, [matched('alice'), stranger(), stranger(), stranger(), matched('alice')], (i) => standing(i, 900));
  g.tick(T0 + 9000);
  assert.deepEqual(brief(g.log), ['grant:granted:alice']);
});

test('leaving and coming back after the cooldown with anti-passback off: a second grant on a new track', () => {
  const g = new Gate();
  g.walk(T0, times(5, matched('alice')));
  const back = T0 + 400 + defaults.cooldownMs;
  g.walk(back, times(5, matched('alice')));
  assert.deepEqual(brief(g.log), ['grant:granted:alice', 'grant:granted:alice']);
  assert.notEqual(g.log[0]!.trackId, g.log[1]!.trackId);
  assert.equal(g.log[1]!.atMs, back + FRAME_MS);
});

test('coming back just inside the cooldown gives no decision at all', () => {
  const g = new Gate();
  g.walk(T0, times(2, matched('alice')));
  // Granted at T0+100; the second vote of the return lands at T0+100+cooldownMs-1.
  g.walk(T0 + defaults.cooldownMs - 1, times(10, matched('alice')));
  g.tick(T0 + 60_000);
  assert.deepEqual(brief(g.log), ['grant:granted:alice']);
});

test('anti-passback on: a second entry after the cooldown is denied once per track, until the window passes', () => {
  const g = new Gate({ antiPassbackMinutes: 30 });
  g.walk(T0, times(5, matched('alice')));
  const back = T0 + 5 * MIN;
  const d = g.walk(back, times(20, matched('alice')));
  assert.deepEqual(brief(d), ['deny:anti_passback:alice']);
  assert.equal(d[0]!.similarity, 0.62);
  assert.match(d[0]!.detail ?? '', /entered 5 min ago/);
  // A second try after the cooldown is a new approach: denied again, once.
  assert.deepEqual(brief(g.walk(back + 20_000, times(20, matched('alice')))), ['deny:anti_passback:alice']);
  // Other attendees are not affected.
  assert.deepEqual(brief(g.walk(back + 60_000, times(3, matched('bob')))), ['grant:granted:bob']);
  // 30 minutes after the first entry she may enter again.
  assert.deepEqual(brief(g.walk(T0 + 100 + 30 * MIN, times(3, matched('alice')))), ['grant:granted:alice']);
});

test('anti-passback denials start a cooldown too: re-found within it, nothing new is reported', () => {
  const g = new Gate({ antiPassbackMinutes: 30 });
  g.walk(T0, times(3, matched('alice')));
  g.walk(T0 + MIN, times(3, matched('alice')));
  g.walk(T0 + MIN + 2000, times(3, matched('alice')), (i) => standing(i, 900));
  assert.deepEqual(brief(g.log), ['grant:granted:alice', 'deny:anti_passback:alice']);
});

test('outside the event window: denied with outside_window once, inside granted', () => {
  const event = { startsAt: T0 + 60 * MIN, endsAt: T0 + 240 * MIN };
  const g = new Gate({}, event);
  const d = g.walk(T0, times(20, matched('alice')));
  assert.deepEqual(brief(d), ['deny:outside_window:alice']);
  assert.ok((d[0]!.detail ?? '').includes(`entry opens at ${new Date(T0 + 60 * MIN).toISOString()}`), d[0]!.detail ?? '');
  g.tick(after(T0, 20));
  assert.deepEqual(brief(g.walk(T0 + 60 * MIN, times(3, matched('alice')))), ['grant:granted:alice']);
  const late = g.walk(T0 + 240 * MIN - FRAME_MS, times(3, matched('bob')));
  assert.deepEqual(brief(late), ['deny:outside_window:bob'], 'the end time itself is outside');
  assert.ok((late[0]!.detail ?? '').includes(`event ended at ${new Date(T0 + 240 * MIN).toISOString()}`), late[0]!.detail ?? '');
  assert.equal(g.log.length, 3);
});

test('earlyOpenMinutes opens the door that long before the start, not longer', () => {
  const event = { startsAt: T0 + 30 * MIN, endsAt: null };
  const early = new Gate({ earlyOpenMinutes: 30 }, event);
  assert.deepEqual(brief(early.walk(T0 - FRAME_MS, times(3, matched('alice')))), ['grant:granted:alice'], 'second vote exactly at the opening');
  const tooEarly = new Gate({ earlyOpenMinutes: 30 }, event);
  assert.deepEqual(brief(tooEarly.walk(T0 - 2 * FRAME_MS, times(2, matched('alice')))), ['deny:outside_window:alice']);
  const noMargin = new Gate({}, event);
  assert.deepEqual(brief(noMargin.walk(T0, times(3, matched('alice')))), ['deny:outside_window:alice']);
});

test('setEvent moves the window for later approaches; a denied track stays decided', () => {
  const g = new Gate({}, { startsAt: T0 + 60 * MIN, endsAt: null });
  g.walk(T0, times(3, matched('alice')));
  g.policy.setEvent({ startsAt: null, endsAt: null });
  g.walk(T0 + 300, times(3, matched('alice')), (i) => walking(i + 3));
  assert.deepEqual(brief(g.log), ['deny:outside_window:alice']);
  g.walk(T0 + 20_000, times(3, matched('alice')));
  assert.deepEqual(brief(g.log), ['deny:outside_window:alice', 'grant:granted:alice']);
  assert.throws(() => g.policy.setEvent({ startsAt: T0, endsAt: T0 - 1 }), RangeError);
});

test('low-quality frames never vote; a track of only low-quality frames reports low_quality once, when it ends', () => {
  const g = new Gate();
  assert.deepEqual(brief(g.walk(T0, times(20, { lowQuality: 'image too blurred (sharpness 5, need 15); hold still' }))), []);
  const d = g.tick(after(T0, 20));
  assert.deepEqual(brief(d), ['deny:low_quality:-']);
  assert.equal(d[0]!.atMs, T0 + 19 * FRAME_MS);
  assert.match(d[0]!.detail ?? '', /too blurred/);
  g.tick(after(T0, 40));
  assert.equal(g.log.length, 1);
});

test('a person too small at first and then recognised gets only the grant: one result per approach', () => {
  const g = new Gate();
  g.walk(T0, [...times(5, { lowQuality: 'face too small' }), ...times(3, matched('alice'))]);
  g.tick(after(T0, 30));
  assert.deepEqual(brief(g.log), ['grant:granted:alice']);
});

test('a short low-quality track reports low_quality when it ends', () => {
  const g = new Gate();
  g.walk(T0, times(2, { lowQuality: 'face too small' }));
  assert.deepEqual(brief(g.tick(after(T0, 2))), ['deny:low_quality:-']);
});

test('low-quality frames take window places: A, low, low, A with 2 of 3 is no grant', () => {
  const g = new Gate();
  g.walk(T0, [matched('alice'), { lowQuality: 'x' }, { lowQuality: 'x' }, matched('alice')]);
  assert.deepEqual(brief(g.log), []);
  assert.deepEqual(brief(g.walk(T0 + 400, [{ lowQuality: 'x' }, matched('alice')], (i) => walking(i + 4))), ['grant:granted:alice']);
});

test('a person who is unknown at first and then recognised: unknown_face once, then the grant', () => {
  const g = new Gate();
  g.walk(T0, [...times(3, stranger()), ...times(5, matched('alice'))]);
  assert.deepEqual(brief(g.log), ['deny:unknown_face:-', 'grant:granted:alice']);
  assert.equal(g.log[0]!.trackId, g.log[1]!.trackId);
});

const REQUIRED = { liveness: { mode: 'required', threshold: 0.9, frames: 3 } } as const;
const photoOf = (userId: string, score = 0.12) => ({ match: matched(userId), live: false, score });
const realFace = (userId: string, score = 0.99) => ({ match: matched(userId), live: true, score });

test('liveness required: a photo of an attendee is reported once as liveness_failed and never opens', () => {
  const g = new Gate(REQUIRED);
  const d = g.walk(T0, times(20, photoOf('alice')));
  g.tick(after(T0, 20));
  assert.deepEqual(brief(g.log), ['deny:liveness_failed:alice']);
  assert.equal(d[0]!.atMs, T0 + 2 * FRAME_MS, 'decided when the third scored frame completes the liveness window');
  assert.deepEqual(d[0]!.liveness, { score: 0.12, frames: 3 });
  assert.match(d[0]!.detail ?? '', /mean liveness 0\.12 over the last 3 frames, below 0\.9/);
});

test('liveness required: a live face waits for the liveness frames, then opens', () => {
  const g = new Gate(REQUIRED);
  const d = g.walk(T0, times(5, realFace('alice')));
  assert.deepEqual(brief(d), ['grant:granted:alice']);
  assert.equal(d[0]!.atMs, T0 + 2 * FRAME_MS, 'votes at frame 2, liveness frames at frame 3');
  assert.equal(d[0]!.liveness!.frames, 3);
});

test('the track decides on the mean of its last frames, not on one frame', () => {
  // One bad frame in a live track does not deny it; one good frame in a photo track does not open.
  const live = new Gate(REQUIRED);
  assert.deepEqual(brief(live.walk(T0, [realFace('alice', 0.99), realFace('alice', 0.8), realFace('alice', 0.99)])), ['grant:granted:alice']);
  const photo = new Gate(REQUIRED);
  photo.walk(T0, [photoOf('alice', 0.1), realFace('alice', 0.95), photoOf('alice', 0.2), photoOf('alice', 0.1)]);
  photo.tick(after(T0, 4));
  assert.deepEqual(brief(photo.log), ['deny:liveness_failed:alice']);
});

test('one liveness verdict per track: later live-looking frames do not reopen it; a new track is judged afresh', () => {
  const g = new Gate(REQUIRED);
  // A screen replay whose score wanders: the first complete window decides.
  g.walk(T0, [photoOf('alice', 0.5), photoOf('alice', 0.6), photoOf('alice', 0.7), ...times(5, realFace('alice', 1))]);
  assert.deepEqual(brief(g.log), ['deny:liveness_failed:alice']);
  // The person stepped out of view and came back: a new track, a new verdict (no cooldown from a liveness failure).
  g.walk(after(T0, 8), times(3, realFace('alice', 0.99)));
  assert.deepEqual(brief(g.log), ['deny:liveness_failed:alice', 'grant:granted:alice']);
  assert.notEqual(g.log[0]!.trackId, g.log[1]!.trackId);
});

test('a matched track that ends before its liveness frames are complete is denied, not let in', () => {
  const g = new Gate(REQUIRED);
  assert.deepEqual(brief(g.walk(T0, times(2, realFace('alice')))), []);
  g.tick(after(T0, 2));
  assert.deepEqual(brief(g.log), ['deny:liveness_failed:alice']);
  assert.match(g.log[0]!.detail ?? '', /after 2 of the 3 frames/);
});

test('liveness advisory: the score is recorded with the grant and never denies', () => {
  const g = new Gate({ liveness: { mode: 'advisory', threshold: 0.9, frames: 3 } });
  const d = g.walk(T0, times(5, photoOf('alice', 0.2)));
  assert.deepEqual(brief(d), ['grant:granted:alice']);
  assert.equal(d[0]!.atMs, T0 + FRAME_MS, 'advisory does not wait for the liveness frames');
  assert.deepEqual(d[0]!.liveness, { score: 0.2, frames: 2 });
});

test('liveness off (the policy default): scores on the faces are ignored and not reported', () => {
  const g = new Gate();
  const d = g.walk(T0, times(5, photoOf('alice', 0.01)));
  assert.deepEqual(brief(d), ['grant:granted:alice']);
  assert.equal(d[0]!.liveness, null);
});

test('a non-live stranger is an unknown_face, not a liveness failure', () => {
  const g = new Gate(REQUIRED);
  g.walk(T0, times(5, { match: stranger(), live: false }));
  assert.deepEqual(brief(g.log), ['deny:unknown_face:-']);
});

test('non-live matches of an attendee in cooldown are silent', () => {
  const g = new Gate(REQUIRED);
  g.walk(T0, times(3, realFace('alice')));
  g.walk(T0 + 1000, times(5, photoOf('alice')), (i) => standing(i, 900));
  g.walk(T0 + 2000, times(2, photoOf('alice')), (i) => standing(i, 50));
  g.tick(T0 + 9000);
  assert.deepEqual(brief(g.log), ['grant:granted:alice']);
});

test('entries() round trip: a restarted policy still enforces anti-passback and the cooldown', () => {
  const g = new Gate({ antiPassbackMinutes: 60 });
  g.walk(T0, times(3, matched('alice')));
  g.walk(T0 + 2 * MIN, times(3, matched('bob')));
  const saved = g.policy.entries();
  assert.deepEqual([...saved], [['alice', T0 + FRAME_MS], ['bob', T0 + 2 * MIN + FRAME_MS]]);
  saved.set('carol', T0);
  assert.equal(g.policy.entries().has('carol'), false, 'entries() hands out a copy');

  const persisted = JSON.parse(JSON.stringify([...g.policy.entries()])) as Array<[string, number]>;
  const restarted = new Gate({ antiPassbackMinutes: 60, initialEntries: persisted });
  assert.deepEqual(restarted.policy.entries(), g.policy.entries());
  assert.deepEqual(brief(restarted.walk(T0 + 2 * MIN + 2000, times(3, matched('bob')))), [], 'bob is still in his cooldown');
  assert.deepEqual(brief(restarted.walk(T0 + 10 * MIN, times(3, matched('alice')))), ['deny:anti_passback:alice']);
  assert.deepEqual(brief(restarted.walk(T0 + 70 * MIN, times(3, matched('alice')))), ['grant:granted:alice']);
  assert.equal(restarted.policy.entries().get('alice'), T0 + 70 * MIN + FRAME_MS);

  const fresh = new Gate({ antiPassbackMinutes: 60 });
  assert.deepEqual(brief(fresh.walk(T0 + 10 * MIN, times(3, matched('alice')))), ['grant:granted:alice'], 'without the entries she would get in');
  assert.throws(() => new Gate({ initialEntries: [['alice', Number.NaN]] }), /initialEntries alice/);
});

test('denials are not entries: an outside_window deny leaves entries() empty', () => {
  const g = new Gate({ antiPassbackMinutes: 60 }, { startsAt: T0 + 60 * MIN, endsAt: null });
  g.walk(T0, times(3, matched('alice')));
  assert.equal(g.policy.entries().size, 0);
});

test('a wall-clock step changes no duration: cooldown, anti-passback and track lifetime run on the monotonic clock', () => {
  // The Pi's clock is corrected by NTP after boot: back 10 minutes, later back a whole day.
  const policy = new GatePolicy({ ...defaults, cooldownMs: 10_000, antiPassbackMinutes: 5 }, OPEN);
  const out: GateDecision[] = [];
  const approach = (wallMs: number, monoMs: number): void => {
    for (let i = 0; i < 3; i++) out.push(...policy.onFrame({ atMs: wallMs + i * FRAME_MS, monoMs: monoMs + i * FRAME_MS, faces: [face(walking(i), matched('alice'))], timings: TIMINGS }));
    out.push(...policy.tick(wallMs + 3 * FRAME_MS + defaults.trackTtlMs + 1, monoMs + 3 * FRAME_MS + defaults.trackTtlMs + 1));
  };
  approach(T0, 1_000);
  // 6 minutes later on the monotonic clock, but the wall clock now reads 10 minutes earlier.
  approach(T0 - 10 * MIN + 6 * MIN, 1_000 + 6 * MIN);
  // Another 6 minutes later; the wall clock now reads a day earlier.
  approach(T0 - 24 * 60 * MIN + 12 * MIN, 1_000 + 12 * MIN);
  // 2 minutes later: anti-passback (5 min) holds, measured on the monotonic clock.
  approach(T0 + 60 * MIN, 1_000 + 14 * MIN);
  assert.deepEqual(brief(out), ['grant:granted:alice', 'grant:granted:alice', 'grant:granted:alice', 'deny:anti_passback:alice']);
  // The records carry the wall-clock time the frame was taken.
  assert.equal(out[1]!.atMs, T0 - 4 * MIN + 2 * FRAME_MS - FRAME_MS);
});

test('entryOnMonotonic: stored entries are placed on the monotonic clock; one from the future is not trusted', () => {
  const wall = T0;
  const mono = 50_000;
  assert.equal(entryOnMonotonic(T0 - 5 * MIN, wall, mono), mono - 5 * MIN);
  assert.equal(entryOnMonotonic(T0 + 30_000, wall, mono), mono, 'a little ahead (clock jitter): as now');
  assert.equal(entryOnMonotonic(T0 + 24 * 60 * MIN, wall, mono), null, 'a day ahead: the clock went back since');
});
