// One camera frame through the gate, in two stages: analyze (decode -> detect, align,
// embed; several frames at once, one per inference worker) and decide (match: the
// Recognizer's rules over the track's fused evidence -> liveness where it can change a
// decision -> the policy -> act; one frame at a time, in capture order, frame-order.ts).
// Timings go to the stats and /metrics.
import type { Frame } from '../capture/index.js';
import type { GateMetrics } from '../api/metrics.js';
import type { Config } from '../config/types.js';
import { unknownTicketDecision } from '../gate/ticket.js';
import type { GateDecision } from '../gate/types.js';
import type { EffectiveThreshold } from '../match/calibration.js';
import type { AttendeeGallery } from '../match/gallery.js';
import { logger } from '../log.js';
import { decodeQr } from '../vision/qr.js';
import type { AnalyzeResult } from '../vision/pipeline.js';
import type { RgbImage } from '../vision/types.js';
import type { DecisionActor } from './gate-act.js';
import type { EventKeeper } from './gate-event.js';
import type { DaemonStats } from './gate-stats.js';
import { FrameMatcher } from './frame-match.js';
import { frameImage } from './frame-image.js';
import type { Recognition } from './recognition.js';

const log = logger('daemon');

/** A frame out of the models, waiting for its turn to be decided. */
export interface AnalyzedFrame {
  frame: Frame;
  /** When it left the newest-frame slot (monotonic ms). */
  takenAtMs: number;
  /** The event and policy when it was taken: a frame whose policy was replaced in flight decides nothing. */
  event: NonNullable<EventKeeper['event']>;
  policy: NonNullable<EventKeeper['policy']>;
  img: RgbImage;
  res: AnalyzeResult;
  decodeMs: number;
}

export interface FrameStageDeps {
  config: Config;
  rec: Recognition;
  events: EventKeeper;
  actor: DecisionActor;
  stats: DaemonStats;
  metrics: GateMetrics;
  now: () => number;
  mono: () => number;
}

export class FrameStage {
  /** Made on first use and after a reload that changed the match settings. */
  private matcher: FrameMatcher | undefined;
  private dataVersion = -1;

  constructor(private readonly deps: FrameStageDeps) {}

  /** A new policy: tracks start afresh. */
  resetTracks(): void {
    this.matcher?.reset();
  }

  /** The match, quality, identification or gate settings changed in place: rules and tracks afresh. */
  reconfigure(): void {
    this.deps.rec.recognizer.rules.reconfigure();
    this.matcher = undefined;
  }

  /** The effective threshold for a gallery (status). */
  thresholdFor(gallery: AttendeeGallery): EffectiveThreshold {
    return this.frameMatcher().thresholdFor(gallery);
  }

  private frameMatcher(): FrameMatcher {
    if (!this.matcher) {
      const config = this.deps.config;
      this.matcher = new FrameMatcher(config, this.deps.rec.recognizer.rules);
      if (config.gate.mode !== 'identify') log.info({ mode: config.gate.mode, verifyThreshold: this.matcher.verifyThreshold() }, `gate.mode ${config.gate.mode}: a ticket's face is compared 1:1 at threshold ${this.matcher.verifyThreshold()}`);
    }
    return this.matcher;
  }

  /** One frame through both stages (tests, `run --once`, the in-process path). */
  async process(frame: Frame, takenAtMs = performance.now()): Promise<GateDecision[]> {
    return this.decide(await this.analyze(frame, takenAtMs));
  }

  /**
   * The first stage, which may run for several frames at once (one per inference worker):
   * decode, detect, align, embed. Captures the event and policy the frame is judged by.
   * null: no event, nothing to decide. `takenAtMs`: when the frame left the newest-frame slot.
   */
  async analyze(frame: Frame, takenAtMs = performance.now()): Promise<AnalyzedFrame | null> {
    const { rec, config, events, stats } = this.deps;
    stats.frames++;
    this.noticeOutsideChanges();
    const event = events.event;
    const policy = events.policy;
    if (!event || !policy) return null;
    const t0 = performance.now();
    const img = await frameImage(frame, config.vision.maxImagePixels);
    const decodeMs = performance.now() - t0;
    const res = await rec.pipeline.analyze(img, { lane: 'camera', retryEmpty: config.daemon.retryEmptyFrames, embed: true, maxEmbedFaces: config.daemon.maxFacesPerFrame, minEmbedInterEyePx: config.quality.minInterEyePx });
    return { frame, takenAtMs, event, policy, img, res, decodeMs };
  }

  /**
   * The second stage, one frame at a time in capture order (the caller's duty: tracks,
   * votes and the anti-passback see frames in order): match, liveness, the policy, act.
   */
  async decide(a: AnalyzedFrame | null): Promise<GateDecision[]> {
    if (!a) return [];
    const { rec, config, events, actor, stats } = this.deps;
    const { galleries, liveness } = rec;
    const { frame, event, policy, img, res, decodeMs } = a;
    const t1 = performance.now();
    const gallery = await galleries.get(event.id);
    const matcher = this.frameMatcher();
    const ticket = config.gate.mode === 'identify' ? null : this.readTicket(img);
    // Fusion over frames is timed on the monotonic clock, like the tracks it follows.
    const { faces, threshold } = await matcher.match(res.faces, gallery, this.deps.mono(), ticket?.userId ?? null);
    actor.noteThreshold(threshold.threshold, threshold.attendees);
    let livenessMs = 0;
    for (const [i, face] of faces.entries()) {
      const f = res.faces[i];
      // Liveness only where it can change a decision: a usable face that matched an attendee.
      if (liveness && f && face.match?.decision === 'match') {
        const tl = performance.now();
        face.liveness = await liveness.check({ atMs: frame.capturedAtMs, image: img }, f);
        livenessMs += performance.now() - tl;
      }
    }
    const matchMs = performance.now() - t1 - livenessMs;
    const stage = this.deps.metrics.stageSeconds;
    stage.observe(decodeMs / 1000, { stage: 'decode' });
    stage.observe(res.timings.detectMs / 1000, { stage: 'detect' });
    stage.observe(res.timings.embedMs / 1000, { stage: 'embed' });
    stage.observe(matchMs / 1000, { stage: 'match' });
    if (liveness) stage.observe(livenessMs / 1000, { stage: 'liveness' });
    stats.livenessMs.push(livenessMs);
    for (const [k, v] of [['decode', decodeMs], ['detect', res.timings.detectMs], ['embed', res.timings.embedMs], ['match', matchMs]] as const) stats.stageMs[k].push(v);
    const timings = { decodeMs, detectMs: res.timings.detectMs, alignMs: res.timings.alignMs, embedMs: res.timings.embedMs, matchMs, ...(liveness && { livenessMs }), ...(ticket && { qrMs: ticket.qrMs }) };
    // The event or the gate settings changed while this frame was in the models (a new
    // event by schedule, a reload): its faces were matched for what no longer holds, and the
    // new policy must not get them. The next frame is judged afresh.
    if (events.policy !== policy) {
      log.info({ seq: frame.seq, event: event.id }, 'frame dropped: the event or the gate settings changed while it was processed');
      return [];
    }
    const decisions = policy.onFrame({ atMs: this.deps.now(), monoMs: this.deps.mono(), faces, timings });
    if (ticket?.unknown) decisions.unshift(unknownTicketDecision(this.deps.now(), timings));
    for (const d of decisions) {
      await actor.act(d, frame.capturedAtMs);
      if (d.kind === 'grant') stats.grantSlotWaitMs.push(a.takenAtMs - frame.capturedAtMs);
      // One ticket lets one person in.
      if (d.kind === 'grant' && d.userId) events.tickets.consume(d.userId);
    }
    return decisions;
  }

  /** The ticket QR code in the frame, if any, and the ticket valid now; unknown: a code to report. */
  private readTicket(img: RgbImage): { userId: string | null; unknown: boolean; qrMs: number } {
    const { events, rec } = this.deps;
    const t0 = performance.now();
    const qr = decodeQr(img, this.deps.config.gate.qrScanWidthPx);
    const qrMs = performance.now() - t0;
    const mono = this.deps.mono();
    let unknown = false;
    if (qr !== null && events.event) {
      const scan = events.tickets.show(qr, rec.store.userByQrId(events.event.id, qr), mono);
      if (scan.kind === 'unknown') unknown = scan.report;
      else if (scan.fresh) log.info({ userId: scan.userId, qrMs: Math.round(qrMs * 10) / 10 }, `ticket of ${scan.userId} shown`);
    }
    return { userId: events.tickets.current(mono)?.userId ?? null, unknown, qrMs };
  }

  /**
   * Another process (a CLI command: attendees remove, sync, purge) changed the database:
   * this connection's change events did not see it, so the galleries are rebuilt.
   * PRAGMA data_version changes only on other connections' commits; it costs microseconds.
   */
  private noticeOutsideChanges(): void {
    const { rec, events } = this.deps;
    const v = rec.store.db.pragma('data_version', { simple: true }) as number;
    if (this.dataVersion !== -1 && v !== this.dataVersion) {
      log.info('the database was changed by another process: reloading attendees');
      rec.galleries.reloadAll();
      events.select();
    }
    this.dataVersion = v;
  }
}
