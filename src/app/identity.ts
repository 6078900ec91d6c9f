// The identity endpoint on the real face pipeline: POST /identity runs the
// gate's own Recognizer (same detector, quality gate, threshold and margin as
// the camera), appends the verification to the attendee's `activities`, and
// records every verification in the audit chain and the outbox, so it is
// published over MQTT like a gate decision. With liveness on, the face is scored
// by the gate's own check too; a still image is one frame, so its score is the
// verdict (docs/api.md says why that is weaker than a track). The HTTP side is src/api/.
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/types.js';
import type { IdentifyContext, IdentifyOutcome, IdentityService, ReadinessProbe } from '../api/identity-service.js';
import { SqliteApiKeyStore } from '../api/keys.js';
import { registerGateMetrics, type GateMetrics, type MetricsRegistry } from '../api/metrics.js';
import { createApiServer, type ApiServer } from '../api/server.js';
import { CameraPriority } from '../api/camera-priority.js';
import { DecodePool } from '../api/decode-pool.js';
import { logger } from '../log.js';
import type { IdentifyResult, Recognizer } from '../match/recognizer.js';
import type { Outbox } from '../publish/outbox.js';
import { RecordBudget, type SuppressedSummary } from '../publish/record-budget.js';
import type { Decision } from '../publish/topics.js';
import type { AttendeeStore } from '../store/attendees.js';
import type { Activity, AttendeeSession } from '../store/session-types.js';
import { fuseLiveness, type LivenessMode, type MiniFasnetLivenessCheck } from '../gate/liveness.js';
import { decodeImage, ImageError, type DecodeOptions } from '../vision/image.js';
import type { RgbImage } from '../vision/types.js';
import { WorkerPipeline } from '../vision/worker-pipeline.js';
import type { Recognition } from './recognition.js';

const log = logger('identity');

/** Reason of a granted API verification; the others are `identity_api_<recognizer reason>`. */
export const API_GRANT_REASON = 'identity_api';

export interface LocalIdentityDeps {
  store: AttendeeStore;
  recognizer: Pick<Recognizer, 'identify'>;
  outbox: Outbox;
  /** Named in the activity ("gate <gateId>"); defaults to the outbox's gateId. */
  gateId?: string;
  /** Decisions by reason and stage latencies, shared with the gate. */
  metrics?: GateMetrics;
  /** Epoch ms; injected by tests. */
  now?: () => number;
  /** Activity ids; injected by tests. */
  newActivityId?: () => string;
  /** This gate's verifications kept per session (config api.maxGateActivities); unbounded when absent. */
  maxGateActivities?: number;
  /** Results that are not a match recorded one by one per minute (config api.unmatchedRecordsPerMinute); unbounded when absent. */
  unmatchedRecordsPerMinute?: number;
  /** The liveness check and how it counts (config liveness); absent = off. */
  liveness?: { check: Pick<MiniFasnetLivenessCheck, 'scoreFace'>; mode: LivenessMode; threshold: number; decode: DecodeOptions };
}

/** Reason of an API verification refused by the liveness check. */
export const API_LIVENESS_REASON = `${API_GRANT_REASON}_liveness_failed`;

/**
 * The gate's decision for an API verification that is not a match, in the
 * daemon's vocabulary: a face too far from everyone is `unknown`, a face the
 * gate would not judge (none, poor quality, ambiguous) is `denied`.
 */
export function apiDecisionOf(r: Pick<IdentifyResult, 'decision' | 'reason'>): { decision: Decision; reason: string } {
  if (r.decision === 'match') return { decision: 'granted', reason: API_GRANT_REASON };
  const unknown = r.reason === 'below_threshold' || r.reason === 'empty_gallery';
  return { decision: unknown ? 'unknown' : 'denied', reason: `${API_GRANT_REASON}_${r.reason}` };
}

/** The eight contract keys in the contract's order (stored extras are internal). */
function contractSession(s: AttendeeSession): AttendeeSession {
  const { userInfo, authentication, kyc, status, qrId, activities, metadata, visitedOrder } = s;
  return { userInfo, authentication, kyc, status, qrId, activities, metadata, visitedOrder };
}

/**
 * Keep at most `max` of this gate's own verification activities (the newest), so a
 * session sent in every result message does not grow without bound between syncs.
 * The central server's activities are left alone.
 */
export function capGateActivities(activities: Activity[], gateUserName: string, max: number): Activity[] {
  let extra = activities.filter((a) => a.userName === gateUserName).length - max;
  if (extra <= 0) return activities;
  return activities.filter((a) => !(a.userName === gateUserName && extra-- > 0));
}

export class LocalIdentityService implements IdentityService {
  private readonly now: () => number;
  private readonly newActivityId: () => string;
  private readonly budget: RecordBudget | null;

  constructor(private readonly deps: LocalIdentityDeps) {
    this.now = deps.now ?? Date.now;
    this.budget = deps.unmatchedRecordsPerMinute === undefined ? null : new RecordBudget(deps.unmatchedRecordsPerMinute);
    this.newActivityId = deps.newActivityId ?? (() => `act_${randomBytes(8).toString('hex')}`);
  }

  hasEvent(eventId: string): boolean {
    return this.deps.store.getEvent(eventId) !== undefined;
  }

  async identify(eventId: string, image: Buffer | RgbImage, ctx: IdentifyContext): Promise<IdentifyOutcome> {
    let r: IdentifyResult;
    // Already pixels when the API's decode workers decoded it.
    let decoded: RgbImage | null = Buffer.isBuffer(image) ? null : image;
    let decodeMs = 0;
    try {
      const lv = this.deps.liveness;
      if (Buffer.isBuffer(image) && lv && lv.mode !== 'off') {
        // Decoded here, once, because the liveness crops need the pixels the recognizer saw.
        const t0 = performance.now();
        decoded = await decodeImage(image, lv.decode);
        decodeMs = performance.now() - t0;
      }
      r = await this.deps.recognizer.identify(eventId, decoded ?? image, 'api');
      if (decoded && Buffer.isBuffer(image)) r.timings.decodeMs = decodeMs;
    } catch (err) {
      // Nothing was seen, so nothing is recorded: the client is told to resend.
      if (err instanceof ImageError) return { kind: 'bad_image', reason: err.message };
      throw err;
    }
    const live = await this.scoreLiveness(decoded, r);
    const atMs = this.now();
    const timings: Record<string, number> = { ...r.timings, ...(live && { livenessMs: live.ms }) };
    const timingsMs = Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v * 10) / 10]));
    this.observeStages(timings);
    const liveness = live && { liveness: { score: live.score, frames: live.frames } };
    // The effective threshold the still was judged at (null: nothing reached matching).
    const threshold = r.threshold === null ? {} : { threshold: r.threshold };

    if (live && !live.live && this.deps.liveness?.mode === 'required') {
      // Refused whoever it resembles: the answer does not say whether the photo matched anyone.
      this.record(eventId, { decision: 'denied', reason: API_LIVENESS_REASON, similarity: null, timingsMs, atMs, ...liveness }, null);
      log.info({ eventId, decision: 'denied', reason: 'liveness_failed', liveness: live.score, client: ctx.apiKeyName }, 'identity not verified: liveness_failed');
      return { kind: 'not_live', score: live.score };
    }

    if (r.decision === 'match' && r.match) {
      const m = r.match;
      const session = this.deps.store.transaction(() => {
        // Read inside the transaction so a concurrent sync cannot slip in between.
        const s = this.deps.store.getSession(eventId, m.userId);
        if (!s) return null;
        s.activities = capGateActivities([...s.activities, this.activity(s, m.similarity, ctx, atMs)], this.gateUserName(), this.deps.maxGateActivities ?? Infinity);
        this.deps.store.upsertAttendee(eventId, s);
        this.record(eventId, { decision: 'granted', reason: API_GRANT_REASON, similarity: m.similarity, timingsMs, atMs, ...liveness, ...threshold }, s);
        return s;
      });
      if (session) {
        log.info({ eventId, userId: m.userId, similarity: m.similarity, client: ctx.apiKeyName }, `identity verified: ${m.userId}`);
        return { kind: 'match', session: contractSession(session) };
      }
      // The attendee was removed between the gallery search and the lookup.
      const reason = 'attendee_removed';
      this.record(eventId, { decision: 'unknown', reason: `${API_GRANT_REASON}_${reason}`, similarity: m.similarity, timingsMs, atMs, ...liveness, ...threshold }, null);
      return { kind: 'unknown', reason };
    }

    const d = apiDecisionOf(r);
    this.record(eventId, { ...d, similarity: null, timingsMs, atMs, ...liveness, ...threshold }, null);
    log.info({ eventId, decision: d.decision, reason: r.reason, client: ctx.apiKeyName }, `identity not verified: ${r.reason}`);
    if (r.decision === 'no_face') return { kind: 'no_face' };
    return { kind: 'unknown', reason: r.detail ? `${r.reason}: ${r.detail}` : r.reason };
  }

  /**
   * The still image's liveness: a usable face (detected, quality gate passed) is scored,
   * matched or not, so a refusal cannot tell the caller whether the photo resembles an
   * attendee. One image is one frame: its score is the track's score.
   */
  private async scoreLiveness(img: RgbImage | null, r: IdentifyResult): Promise<{ score: number; frames: number; live: boolean; ms: number } | null> {
    const lv = this.deps.liveness;
    if (!lv || !img || !r.face || r.reason === 'low_quality' || r.decision === 'no_face') return null;
    const t0 = performance.now();
    const score = await lv.check.scoreFace(img, r.face, 'api');
    return { score, frames: 1, ms: performance.now() - t0, live: fuseLiveness([score], { threshold: lv.threshold, frames: 1 }).live };
  }

  /** This verification, in the shape of the contract's example activity. */
  private gateUserName(): string {
    return `gate ${this.deps.gateId ?? this.deps.outbox.identity.gateId}`;
  }

  private activity(s: AttendeeSession, similarity: number, ctx: IdentifyContext, atMs: number): Activity {
    const gateId = this.deps.gateId ?? this.deps.outbox.identity.gateId;
    return {
      type: 'logs',
      userName: this.gateUserName(),
      id: this.newActivityId(),
      metadata: {
        time: atMs,
        data: `identity verified by face at gate ${gateId} for API client "${ctx.apiKeyName}" (similarity ${similarity.toFixed(2)})`,
        // A verification does not move the session along its flow.
        to: s.status,
        from: s.status,
        stepId: 'authentication',
      },
    };
  }

  /** Recorded for the event the request names, which need not be the gate's current one. */
  private record(eventId: string, decision: Parameters<Outbox['recordDecision']>[0], attendee: AttendeeSession | null): void {
    this.deps.metrics?.decisions.inc({ reason: decision.reason });
    // A match is always recorded; what a flood of faceless or unknown images can write is bounded.
    if (decision.decision !== 'granted' && this.budget) {
      const { record, summary } = this.budget.take(decision.reason, decision.atMs);
      if (summary) this.writeSummary(summary);
      if (!record) return;
    }
    this.deps.outbox.recordDecision(decision, attendee, eventId);
  }

  /** Write the summary of a minute that has ended (or, with `force` on shutdown, of this one). */
  flushSummary(force = false): void {
    const summary = this.budget?.flush(this.now(), force);
    if (summary) this.writeSummary(summary);
  }

  private writeSummary(summary: SuppressedSummary): void {
    this.deps.outbox.recordApiSummary(summary);
    log.warn({ count: summary.count, byReason: summary.byReason, since: summary.since }, 'identity API results over api.unmatchedRecordsPerMinute were summarised, not recorded one by one');
  }

  private observeStages(timings: Record<string, number>): void {
    const stages = this.deps.metrics?.stageSeconds;
    if (!stages) return;
    for (const [k, ms] of Object.entries(timings)) {
      if (Number.isFinite(ms)) stages.observe(ms / 1000, { stage: k.replace(/Ms$/, '') });
    }
  }
}

export interface ApiServiceOptions {
  config: Config;
  rec: Pick<Recognition, 'store' | 'recognizer'> & Partial<Pick<Recognition, 'liveness' | 'pipeline'>>;
  outbox: Outbox;
  metrics?: MetricsRegistry;
  readiness?: readonly ReadinessProbe[];
}

export interface ApiService {
  server: ApiServer;
  identity: LocalIdentityService;
  /** The daemon marks its camera frames here; API recognitions run between them. */
  priority: CameraPriority;
  /** The decode children (their pids for memory accounting). */
  decoder: DecodePool;
  /** Where it listens (the real port when config.api.port is 0). */
  address: { host: string; port: number };
  close(): Promise<void>;
}

/** POST /identity and friends on config.api.host:port, over the real recognizer. */
export async function startApiService(opts: ApiServiceOptions): Promise<ApiService> {
  const { enabled: _enabled, host, port, maxGateActivities, summaryFlushMs, ...apiConfig } = opts.config.api;
  const gate = opts.metrics ? registerGateMetrics(opts.metrics) : undefined;
  gate?.outboxDepth.collect(() => opts.outbox.depth());
  const identity = new LocalIdentityService({
    store: opts.rec.store,
    recognizer: opts.rec.recognizer,
    outbox: opts.outbox,
    gateId: opts.config.gateId,
    maxGateActivities,
    unmatchedRecordsPerMinute: apiConfig.unmatchedRecordsPerMinute,
    ...(gate && { metrics: gate }),
    ...(opts.rec.liveness && { liveness: { check: opts.rec.liveness, mode: opts.config.liveness.mode, threshold: opts.config.liveness.threshold, decode: { maxPixels: opts.config.vision.maxImagePixels } } }),
  });
  const decoder = new DecodePool({
    workers: apiConfig.maxRecognitionsInFlight,
    timeoutMs: apiConfig.decodeTimeoutMs,
    wallTimeoutMs: apiConfig.decodeWallTimeoutMs,
    maxPixels: opts.config.vision.maxImagePixels,
    maxSidePx: apiConfig.decodeMaxSidePx,
  });
  const priority = new CameraPriority(opts.rec.pipeline instanceof WorkerPipeline ? opts.rec.pipeline.lanes : null);
  const server = createApiServer({
    identity,
    keys: new SqliteApiKeyStore(opts.rec.store.db),
    config: apiConfig,
    decoder,
    priority,
    ...(opts.metrics && { metrics: opts.metrics }),
    ...(opts.readiness && { readiness: opts.readiness }),
  });
  decoder.start();
  let address;
  try {
    address = await server.listen(host, port);
  } catch (err) {
    await decoder.stop();
    throw err;
  }
  // A flood's summary is written when its minute ends, even if no request follows.
  const flusher = setInterval(() => identity.flushSummary(), summaryFlushMs);
  flusher.unref();
  return {
    server,
    identity,
    priority,
    decoder,
    address,
    async close() {
      clearInterval(flusher);
      try {
        await server.close();
        identity.flushSummary(true);
      } finally {
        await decoder.stop();
      }
    },
  };
}
