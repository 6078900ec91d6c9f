// The gate's decision (pure): per-frame match results -> tracks -> votes -> at most
// one grant per approach. No I/O; every time is passed in. A stranger must never
// get in: a grant needs votesNeeded good-quality matches of the SAME attendee among
// the last votesWindow frames of one track and, with liveness required, the track's
// fused liveness score (fuseLiveness). The rules are in docs/gate.md.
import { gatePolicyDefaults, gatePolicyOptionsProblems, type GatePolicyOptions } from '../config/sections/gate.js';
import { fuseLiveness, type LivenessOptions, type TrackLiveness } from './liveness.js';
import { BoxTracker } from './tracker.js';
import type { FaceInput, FrameInput, FrameTimings, GateCandidate, GateDecision, GateEvent, GateReason } from './types.js';

/** Not configuration: state handed over by the daemon, and the clock decideMs is measured with. */
export interface GatePolicyRuntime {
  /**
   * userId -> last entry on the policy's monotonic timeline (the caller converts stored
   * wall-clock entries, see entryOnMonotonic), so anti-passback survives a restart.
   */
  initialEntries?: Iterable<readonly [string, number]>;
  /** Monotonic clock for decideMs; performance.now by default. */
  perfNow?: () => number;
  /** How the faces' liveness scores count (config `liveness`); absent = mode off. */
  liveness?: Pick<LivenessOptions, 'mode' | 'threshold' | 'frames'>;
}

// The options are the config's `gate` section's policy keys (src/config/sections/gate.ts,
// with their meaning, bounds and the rule across them); a policy built elsewhere starts from
// the same defaults and is checked the same way.
export { gatePolicyDefaults as defaults, type GatePolicyOptions };

function eventProblem(e: GateEvent): string | null {
  for (const k of ['startsAt', 'endsAt'] as const) {
    const v = e[k];
    if (v !== null && !Number.isFinite(v)) return `event.${k}: ${String(v)}: must be epoch milliseconds or null`;
  }
  if (e.startsAt !== null && e.endsAt !== null && e.endsAt < e.startsAt) {
    return `event.endsAt: ${e.endsAt}: before startsAt (${e.startsAt}); fix the event's times`;
  }
  return null;
}

/** What one face said about its track. */
interface Observation {
  /** qualityProblem; a face with one says nothing else. */
  problem: string | null;
  /** The face's liveness score; null when it was not checked. */
  livenessScore: number | null;
  /** The matched attendee (match.decision === 'match'), live or not. */
  userId: string | null;
  similarity: number | null;
  /** The face was matched against the gallery and matched nobody. */
  noMatch: boolean;
  belowMargin: boolean;
  /** The gallery's best attendee whatever the decision, for `nearest`. */
  best: GateCandidate | null;
  /** The attendee of the ticket the face was compared with (verify/either mode), and the 1:1 threshold. */
  ticketUser: string | null;
  ticketThreshold: number | null;
  /** verify mode without a valid ticket: the face was not matched. */
  ticketMissing: boolean;
}

interface TrackState {
  id: number;
  window: Observation[];
  frames: number;
  lastAtMs: number;
  /** The same, on the monotonic clock (durations). */
  lastMonoMs: number;
  lastTimings: FrameTimings;
  noMatch: number;
  belowMargin: number;
  lowQuality: number;
  /** Good-quality frames that were matched or liveness-checked: the track is more than low quality. */
  evidence: number;
  matchedUsers: Set<string>;
  nearest: GateCandidate | null;
  lastProblem: string | null;
  /** Granted, denied for its attendee, or absorbed into a cooldown: no more decisions. */
  settled: boolean;
  softReported: boolean;
  livenessReported: boolean;
  /** Liveness scores of the track's usable faces, newest last (at most liveness.frames). */
  livenessScores: number[];
  /** The attendee whose votes are complete while the liveness frames are not (required mode). */
  livenessPending: string | null;
  /** Usable frames without a valid ticket (verify mode). */
  ticketMissing: number;
  /** No-match frames compared with a ticket's attendee, the latest such ticket and its threshold. */
  ticketMismatch: number;
  ticketUser: string | null;
  ticketThreshold: number | null;
}

function observe(f: FaceInput): Observation {
  const livenessScore = f.liveness?.score ?? null;
  const m = f.match;
  const best = m?.best ? { userId: m.best.userId, similarity: m.best.similarity } : null;
  const t = f.ticket;
  const ticket = { ticketUser: t?.kind === 'shown' ? t.userId : null, ticketThreshold: t?.kind === 'shown' ? t.threshold : null, ticketMissing: t?.kind === 'required' };
  const none = { livenessScore, userId: null, similarity: null, noMatch: false, belowMargin: false, best, ...ticket };
  if (f.qualityProblem !== null) return { ...none, problem: f.qualityProblem, best: null };
  if (ticket.ticketMissing) return { ...none, problem: null };
  if (m?.decision === 'match' && m.match) {
    return { ...none, problem: null, userId: m.match.userId, similarity: m.match.similarity };
  }
  return { ...none, problem: null, noMatch: m !== null, belowMargin: m?.reason === 'below_margin' };
}

const MINUTE_MS = 60_000;
/** atMs: wall clock (event window, records); monoMs: monotonic (durations); nowMs: decision time. */
type Ctx = { atMs: number; monoMs: number; nowMs: number };
const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * A stored entry (wall-clock ms, as the store keeps it) on the policy's monotonic timeline,
 * given both clocks now; null for an entry from the future (the clock stepped back since, or
 * was wrong then): suspect, so it must not lock anyone out.
 */
export function entryOnMonotonic(entryWallMs: number, nowWallMs: number, nowMonoMs: number, toleranceMs = 60_000): number | null {
  if (entryWallMs > nowWallMs + toleranceMs) return null;
  return nowMonoMs - Math.max(0, nowWallMs - entryWallMs);
}

export class GatePolicy {
  private readonly opts: GatePolicyOptions;
  private readonly tracker: BoxTracker;
  private readonly tracks = new Map<number, TrackState>();
  private readonly lastEntry = new Map<string, number>();
  /** Last grant or attendee deny per attendee (and the imported entries), for the cooldown. */
  private readonly lastDecision = new Map<string, number>();
  private readonly perfNow: () => number;
  private readonly liveness: Pick<LivenessOptions, 'mode' | 'threshold' | 'frames'>;
  private event: GateEvent;

  constructor(opts: GatePolicyOptions & GatePolicyRuntime, event: GateEvent) {
    const problems = gatePolicyOptionsProblems(opts);
    const ep = eventProblem(event);
    if (ep) problems.push(ep);
    if (problems.length) throw new RangeError(`gate policy: ${problems.join('; ')}`);
    const { initialEntries, perfNow, liveness, ...options } = opts;
    this.liveness = { mode: 'off', threshold: 0, frames: 1, ...liveness };
    if (!(this.liveness.frames >= 1 && Number.isInteger(this.liveness.frames))) throw new RangeError(`gate policy: liveness.frames ${this.liveness.frames}: must be a whole number of at least 1`);
    this.opts = { ...options };
    this.tracker = new BoxTracker(this.opts);
    this.perfNow = perfNow ?? (() => performance.now());
    this.event = { ...event };
    for (const [userId, ms] of initialEntries ?? []) {
      if (!Number.isFinite(ms)) throw new RangeError(`gate policy: initialEntries ${userId}: ${String(ms)}: must be a finite time in ms`);
      this.lastEntry.set(userId, ms);
      this.lastDecision.set(userId, ms);
    }
  }

  /** One frame's faces; returns the decisions it led to (including tracks it found expired). */
  onFrame(frame: FrameInput, nowMs: number = frame.atMs): GateDecision[] {
    if (!Number.isFinite(frame.atMs)) throw new RangeError(`gate policy: frame atMs ${String(frame.atMs)}: must be epoch milliseconds`);
    const mono = frame.monoMs ?? frame.atMs;
    const t0 = this.perfNow();
    const out = this.expire(mono, nowMs);
    const ids = this.tracker.update(frame.faces.map((f) => f.box), mono);
    frame.faces.forEach((face, i) => {
      const id = ids[i];
      if (id === undefined) return;
      const d = this.observeFace(this.stateFor(id), observe(face), frame, nowMs);
      out.push(...d);
    });
    return this.stamp(out, t0);
  }

  /**
   * Ends tracks not seen for trackTtlMs and emits their once-only reports. Call when no frame
   * comes; `monoMs` is now on the frames' monotonic clock (default: nowMs, as for frames without one).
   */
  tick(nowMs: number, monoMs: number = nowMs): GateDecision[] {
    const t0 = this.perfNow();
    return this.stamp(this.expire(monoMs, nowMs), t0);
  }

  setEvent(event: GateEvent): void {
    const p = eventProblem(event);
    if (p) throw new RangeError(`gate policy: ${p}`);
    this.event = { ...event };
  }

  /**
   * An entry made elsewhere (another gate of the site), on the monotonic timeline: it counts
   * for anti-passback and cooldown as if made here. An older entry than the one known changes nothing.
   */
  noteEntry(userId: string, monoMs: number): void {
    if (!Number.isFinite(monoMs)) throw new RangeError(`gate policy: entry of ${userId}: ${String(monoMs)}: must be a finite time in ms`);
    if ((this.lastEntry.get(userId) ?? -Infinity) < monoMs) this.lastEntry.set(userId, monoMs);
    if ((this.lastDecision.get(userId) ?? -Infinity) < monoMs) this.lastDecision.set(userId, monoMs);
  }

  /**
   * While set, an attendee with any known entry is denied (peers_unreachable) whatever
   * antiPassbackMinutes says, with `detail` as the reason; null: the usual window applies.
   * (fleet.offline deny-repeat while the gate cannot hear its peers.)
   */
  denyRepeats(detail: string | null): void {
    this.repeatDenied = detail;
  }

  private repeatDenied: string | null = null;

  /** userId -> last entry on the monotonic timeline (the records keep the wall-clock time). */
  entries(): Map<string, number> {
    return new Map(this.lastEntry);
  }

  /** Tracks being followed now. */
  get activeTracks(): number {
    return this.tracker.size;
  }

  private stamp(out: GateDecision[], t0: number): GateDecision[] {
    const decideMs = this.perfNow() - t0;
    for (const d of out) d.timings.decideMs = decideMs;
    return out;
  }

  private stateFor(id: number): TrackState {
    let s = this.tracks.get(id);
    if (!s) {
      s = {
        id, window: [], frames: 0, lastAtMs: 0, lastMonoMs: 0, lastTimings: { detectMs: 0, alignMs: 0, embedMs: 0, matchMs: 0 },
        noMatch: 0, belowMargin: 0, lowQuality: 0, evidence: 0, matchedUsers: new Set(), nearest: null, lastProblem: null,
        settled: false, softReported: false, livenessReported: false, livenessScores: [], livenessPending: null,
        ticketMissing: 0, ticketMismatch: 0, ticketUser: null, ticketThreshold: null,
      };
      this.tracks.set(id, s);
    }
    return s;
  }

  private observeFace(s: TrackState, o: Observation, frame: FrameInput, nowMs: number): GateDecision[] {
    s.window.push(o);
    if (s.window.length > this.opts.votesWindow) s.window.shift();
    s.frames++;
    s.lastAtMs = frame.atMs;
    s.lastMonoMs = frame.monoMs ?? frame.atMs;
    s.lastTimings = { ...frame.timings };
    if (o.problem !== null) {
      s.lowQuality++;
      s.lastProblem = o.problem;
    } else {
      if (o.noMatch) s.noMatch++;
      if (o.belowMargin) s.belowMargin++;
      if (o.ticketMissing) s.ticketMissing++;
      if (o.noMatch && o.ticketUser !== null) {
        s.ticketMismatch++;
        s.ticketUser = o.ticketUser;
        s.ticketThreshold = o.ticketThreshold;
      }
      if (o.userId !== null || o.noMatch || o.ticketMissing || o.livenessScore !== null) s.evidence++;
      if (o.livenessScore !== null) {
        s.livenessScores.push(o.livenessScore);
        if (s.livenessScores.length > this.liveness.frames) s.livenessScores.shift();
      }
      if (o.userId !== null) s.matchedUsers.add(o.userId);
      if (o.best && (!s.nearest || o.best.similarity > s.nearest.similarity)) s.nearest = o.best;
    }
    if (s.settled) return [];
    const ctx = { atMs: frame.atMs, monoMs: s.lastMonoMs, nowMs };

    if (o.problem === null && o.userId !== null && this.votes(s, o.userId) >= this.opts.votesNeeded) {
      const u = o.userId;
      const lv = this.trackLiveness(s);
      if (this.liveness.mode !== 'required' || lv.live) return this.resolve(s, u, ctx);
      // The votes are there; the verdict waits for liveness.frames scored frames.
      if (!lv.complete) {
        s.livenessPending = u;
        return [];
      }
      // Below the threshold: one verdict per track. Were the track kept open, a screen
      // replay would get in at the first lucky window: the zalo screen attack's 5-frame
      // means range from 0.35 to 0.96 (docs/accuracy.md, Liveness). A real person whose
      // first frames scored low gets a new verdict on a new track (step out of view).
      s.settled = true;
      if (!s.livenessReported && !this.inCooldown(u, ctx.monoMs)) {
        s.livenessReported = true;
        return [this.decision(s, 'deny', 'liveness_failed', u, ctx, `not live: mean liveness ${lv.score!.toFixed(2)} over the last ${lv.frames} frames, below ${this.liveness.threshold}`)];
      }
    }
    if (s.softReported || s.livenessReported || this.approachCooled(s, ctx.monoMs)) return [];
    const M = this.opts.votesWindow;
    if ((o.noMatch && s.noMatch >= M) || (o.ticketMissing && s.ticketMissing >= M)) return [this.soft(s, ctx)];
    // A track of low-quality faces only is reported when it ends, not after M frames: a
    // person walking up is too small in their first frames, and reporting that early would
    // put two results (low_quality, then granted) on the dashboard for one approach.
    return [];
  }

  /** The track identified attendee u: one decision about u, and the track is done. */
  private resolve(s: TrackState, u: string, ctx: Ctx): GateDecision[] {
    s.settled = true;
    if (this.inCooldown(u, ctx.monoMs)) return [];
    this.lastDecision.set(u, ctx.monoMs);
    const { startsAt, endsAt } = this.event;
    const opensAt = startsAt === null ? null : startsAt - this.opts.earlyOpenMinutes * MINUTE_MS;
    if (opensAt !== null && ctx.atMs < opensAt) return [this.decision(s, 'deny', 'outside_window', u, ctx, `entry opens at ${iso(opensAt)}`)];
    if (endsAt !== null && ctx.atMs >= endsAt) return [this.decision(s, 'deny', 'outside_window', u, ctx, `event ended at ${iso(endsAt)}`)];
    const last = this.lastEntry.get(u);
    const passbackMs = this.opts.antiPassbackMinutes * MINUTE_MS;
    if (passbackMs > 0 && last !== undefined && ctx.monoMs - last < passbackMs) {
      const agoMs = ctx.monoMs - last;
      const ago = Math.max(0, Math.round(agoMs / MINUTE_MS));
      return [this.decision(s, 'deny', 'anti_passback', u, ctx, `entered ${ago} min ago; entry allowed again from ${iso(ctx.atMs + passbackMs - agoMs)}`)];
    }
    if (this.repeatDenied !== null && last !== undefined) {
      const ago = Math.max(0, Math.round((ctx.monoMs - last) / MINUTE_MS));
      return [this.decision(s, 'deny', 'peers_unreachable', u, ctx, `entered ${ago} min ago and ${this.repeatDenied}: repeat entries are refused until the gate hears its peers again`)];
    }
    this.lastEntry.set(u, ctx.monoMs);
    return [this.decision(s, 'grant', 'granted', u, ctx, null)];
  }

  /** The once-only report of a track that did not identify anyone. */
  private soft(s: TrackState, ctx: Ctx): GateDecision {
    s.softReported = true;
    if (s.evidence === 0) return this.decision(s, 'deny', 'low_quality', null, ctx, s.lastProblem);
    if (s.ticketMissing > s.noMatch) return this.decision(s, 'deny', 'ticket_required', null, ctx, `no valid ticket in ${s.ticketMissing} of ${s.frames} frames: show the ticket's QR code to the camera first`);
    if (s.ticketUser !== null && s.ticketMismatch * 2 > s.noMatch) {
      return this.decision(s, 'deny', 'ticket_face_mismatch', s.ticketUser, ctx, `not the face of the ticket's attendee in ${s.ticketMismatch} of ${s.frames} frames`);
    }
    const reason: GateReason = s.belowMargin * 2 > s.noMatch ? 'below_margin' : 'unknown_face';
    let detail = `matched nobody in ${s.noMatch} of ${s.frames} frames`;
    if (reason === 'below_margin') detail = `too close to two attendees in ${s.belowMargin} of ${s.frames} frames`;
    else if (s.noMatch === 0) detail = `no attendee matched in ${this.opts.votesNeeded} of ${this.opts.votesWindow} frames (${s.frames} frames)`;
    return this.decision(s, 'deny', reason, null, ctx, detail);
  }

  private trackLiveness(s: TrackState): TrackLiveness {
    return fuseLiveness(s.livenessScores, this.liveness);
  }

  private expire(monoMs: number, nowMs: number): GateDecision[] {
    const out: GateDecision[] = [];
    for (const t of this.tracker.expire(monoMs)) {
      const s = this.tracks.get(t.id);
      this.tracks.delete(t.id);
      if (!s) continue;
      const ctx = { atMs: s.lastAtMs, monoMs: s.lastMonoMs, nowMs };
      const u = s.livenessPending;
      if (u !== null && !s.settled && !s.livenessReported && !this.inCooldown(u, s.lastMonoMs)) {
        // Matched, but gone before there were enough frames to judge liveness: no entry.
        const lv = this.trackLiveness(s);
        out.push(this.decision(s, 'deny', 'liveness_failed', u, ctx, `the track ended after ${lv.frames} of the ${this.liveness.frames} frames liveness is judged on`));
        continue;
      }
      if (!this.reportsOnExpiry(s)) continue;
      out.push(this.soft(s, ctx));
    }
    return out;
  }

  private reportsOnExpiry(s: TrackState): boolean {
    if (s.settled || s.softReported || s.livenessReported) return false;
    if (s.evidence === 0 && s.lowQuality === 0) return false; // never scored: nothing to say
    return !this.approachCooled(s, s.lastMonoMs);
  }

  private votes(s: TrackState, u: string): number {
    return s.window.filter((w) => w.problem === null && w.userId === u).length;
  }

  private inCooldown(u: string, monoMs: number): boolean {
    const last = this.lastDecision.get(u);
    return last !== undefined && monoMs - last < this.opts.cooldownMs;
  }

  /** A track that matched someone who just passed is that person lingering: no reports for it. */
  private approachCooled(s: TrackState, monoMs: number): boolean {
    return [...s.matchedUsers].some((u) => this.inCooldown(u, monoMs));
  }

  private decision(s: TrackState, kind: GateDecision['kind'], reason: GateReason, userId: string | null, ctx: Ctx, detail: string | null): GateDecision {
    const mine = userId === null ? [] : s.window.filter((w) => w.problem === null && w.userId === userId);
    const sims = mine.map((w) => w.similarity).filter((x): x is number => x !== null);
    let similarity = sims.length ? Math.max(...sims) : null;
    if (userId === null) similarity = s.nearest?.similarity ?? null;
    // The 1:1 score against the ticket's attendee: the best the face came to.
    if (reason === 'ticket_face_mismatch') similarity = s.nearest?.userId === userId ? s.nearest.similarity : null;
    const threshold = reason === 'ticket_face_mismatch' ? s.ticketThreshold : (mine.find((w) => w.ticketUser === userId)?.ticketThreshold ?? null);
    const lv = this.trackLiveness(s);
    return {
      kind,
      reason,
      trackId: s.id,
      userId,
      similarity,
      nearest: s.nearest && { ...s.nearest },
      votes: mine.length,
      liveness: this.liveness.mode === 'off' || lv.score === null ? null : { score: lv.score, frames: lv.frames },
      frames: s.frames,
      atMs: ctx.atMs,
      decidedAtMs: ctx.nowMs,
      timings: { ...s.lastTimings, decideMs: 0 },
      detail,
      ...(threshold !== null && { threshold }),
    };
  }
}
