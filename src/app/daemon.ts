// The composition root of `gate-agent run`: builds every component, owns their
// lifecycle, and runs the frame loop camera -> vision -> match -> policy -> relay,
// recording each decision in the outbox before the relay fires.
import { readFileSync } from 'node:fs';
import { backoffDelayMs, createFrameSource, FrameSourceClosedError, type Frame, type FrameSource } from '../capture/index.js';
import type { Config } from '../config/types.js';
import { entryOnMonotonic, GatePolicy } from '../gate/policy.js';
import type { GateDecision } from '../gate/types.js';
import { logger } from '../log.js';
import { FrameMatcher } from './frame-match.js';
import { Outbox } from '../publish/outbox.js';
import { sealerOf } from '../store/open.js';
import { purgeExpiredInBatches } from '../store/purge.js';
import { MqttPublisher } from '../publish/publisher.js';
import type { Decision } from '../publish/topics.js';
import { acquireRelayLock, createRelay, installRelayFailSafe, type Relay } from '../relay/index.js';
import { onReloadSignal } from '../service/reload-signal.js';
import { SdNotify } from '../service/sdnotify.js';
import type { EventRow } from '../store/attendees.js';
import { frameImage } from './frame-image.js';
import { decodeQr } from '../vision/qr.js';
import type { RgbImage } from '../vision/types.js';
import { TicketWindow, unknownTicketDecision } from '../gate/ticket.js';
import { chooseCamera } from './camera.js';
import { GateHealth, type HealthPart, type HealthReport, type PartHealth } from './health.js';
import { startApiService, type ApiService } from './identity.js';
import { MetricsRegistry, registerGateMetrics } from '../api/metrics.js';
import { startRecognition, type Recognition } from './recognition.js';
import { currentEvent } from './schedule.js';
import { SyncScheduler } from '../sync/scheduler.js';
import { photoFetcher } from '../api/photo-fetcher.js';
import { loadConfig } from '../config/load.js';
import { GateStatus, gateDetailOf, type StatusInputs } from './status.js';
import { FleetLink } from './fleet-link.js';
import { baseTopicOf } from '../publish/options.js';
import { RecentSamples } from './recent-samples.js';
import { applyImageThreads, threadBudget } from './thread-budget.js';
import { watchInference } from './vision-health.js';

const log = logger('daemon');
const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const TICK_MS = 250;

export interface DaemonOptions {
  config: Config;
  configFile: string | null;
  modelsDir: string;
  dataDir: string;
  /** Stop by itself when the camera source ends (a replay that does not loop). */
  once?: boolean;
  notify?: SdNotify;
  /** Wall-clock time (epoch ms) for decisions and event windows; tests inject their own. */
  now?: () => number;
  /** Monotonic time (ms) for durations: track lifetime, cooldown, anti-passback. Default performance.now. */
  mono?: () => number;
}

export interface DaemonStats {
  frames: number;
  framesFailed: number;
  decisions: Record<string, number>;
  /** Pulses the relay driver confirmed (the line was driven); a failed one counts in pulseFailures. */
  pulses: number;
  pulseFailures: number;
  /** Frame capture to relay energised, per grant, ms (the last 1000). */
  grantLatencyMs: RecentSamples;
  /** Liveness scoring time per processed frame with an event, ms (0 when no face matched; the last 1000). */
  livenessMs: RecentSamples;
  /** Per processed frame, ms, by stage (decode, detect, embed, match): the last 1000 each. */
  stageMs: Record<'decode' | 'detect' | 'embed' | 'match', RecentSamples>;
}

/** Samples kept for the summary and benchmarks: a daemon that runs for months must not grow. */
const STATS_SAMPLES = 1000;

const publishedDecision = (d: GateDecision): Decision => (d.kind === 'grant' ? 'granted' : d.reason === 'unknown_face' ? 'unknown' : 'denied');

export class GateDaemon {
  readonly stats: DaemonStats = { frames: 0, framesFailed: 0, decisions: {}, pulses: 0, pulseFailures: 0, grantLatencyMs: new RecentSamples(STATS_SAMPLES), livenessMs: new RecentSamples(STATS_SAMPLES), stageMs: { decode: new RecentSamples(STATS_SAMPLES), detect: new RecentSamples(STATS_SAMPLES), embed: new RecentSamples(STATS_SAMPLES), match: new RecentSamples(STATS_SAMPLES) } };
  /** pulse() calls whose outcome the relay has not reported yet (a newer pulse merges with them). */
  private unsettledPulses = 0;
  private pulsesSettledWaiters: (() => void)[] = [];
  private releaseRelayLock: (() => void) | undefined;
  relay: Relay | undefined;
  rec: Recognition | undefined;
  outbox: Outbox | undefined;
  publisher: MqttPublisher | undefined;
  /** Site-wide entries and Home Assistant discovery (docs/fleet.md). */
  fleet: FleetLink | undefined;
  source: FrameSource | null = null;
  api: ApiService | undefined;
  sync: SyncScheduler | undefined;
  readonly metrics = new MetricsRegistry();
  private gateMetrics = registerGateMetrics(this.metrics);
  event: EventRow | null = null;
  private policy: GatePolicy | undefined;
  private matcher: FrameMatcher | undefined;
  /** The ticket shown to the camera (gate.mode verify/either); a new event or gate settings start afresh. */
  private tickets: TicketWindow | undefined;
  /** The threshold of the latest matched frame, for the decision records and the log. */
  private threshold: number | undefined;
  private identity = { gateId: '', siteId: '', eventId: '', modelId: '' };
  private readonly abort = new AbortController();
  private loopDone: Promise<void> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  private removeFailSafe: (() => void) | undefined;
  private lastFrameAt = 0;
  private readonly notify: SdNotify;
  /** Resolves when the daemon wants to stop by itself (--once and the replay ended). */
  readonly finished: Promise<void>;
  private finish!: () => void;

  private readonly now: () => number;
  private readonly mono: () => number;
  /** What each part was last seen doing; /healthz, MQTT status, sd_notify and the log read it. */
  readonly health: GateHealth;
  private cameraRetry: NodeJS.Timeout | undefined;
  /** <dataDir>/status.json for `gate-agent status`. */
  readonly status: GateStatus;

  constructor(private readonly opts: DaemonOptions) {
    this.now = opts.now ?? Date.now;
    this.mono = opts.mono ?? (() => performance.now());
    this.health = new GateHealth(opts.config.gateId, this.now);
    this.health.on('change', (report, { part, was, now }) => this.announceHealth(report, part, was?.ok, now));
    this.notify = opts.notify ?? new SdNotify({ healthy: () => this.healthy() });
    this.finished = new Promise((r) => (this.finish = r));
    const d = opts.config.daemon;
    this.status = new GateStatus({ dataDir: opts.dataDir, configFile: opts.configFile, intervalMs: d.statusIntervalMs, fpsWindowMs: d.statusFpsWindowMs, now: this.now, mono: this.mono, collect: () => this.statusInputs(), onSnapshot: (s) => this.publisher?.setDetail(gateDetailOf(s)), onError: (err) => log.warn({ err: err.message }, 'cannot write status.json') });
  }

  /** The parts' state for status.json; parts not started yet are null. */
  private async statusInputs(): Promise<StatusInputs> {
    const rec = this.rec;
    const e = this.event;
    const src = this.source?.status();
    const pub = this.publisher?.status();
    const relay = this.relay?.state();
    const gallery = rec && e ? await rec.galleries.get(e.id) : null;
    return {
      gateId: this.config.gateId,
      siteId: this.config.siteId,
      event: e && { id: e.id, attendees: gallery?.attendeeCount ?? null, threshold: gallery ? this.frameMatcher().thresholdFor(gallery).threshold : null },
      camera: src ? { description: this.cameraDescription, state: src.state, framesReceived: src.framesReceived, lastError: src.lastError } : this.cameraDescription ? { description: this.cameraDescription, state: 'not started', framesReceived: 0, lastError: this.health.get('camera')?.detail ?? null } : null,
      relay: relay ? { driver: relay.driver, active: relay.active } : null,
      broker: pub ? { url: pub.broker, state: pub.state, lastError: pub.lastError, lastErrorAt: pub.lastErrorAt } : null,
      outboxDepth: this.outbox?.depth() ?? null,
      lastSync: e && rec ? rec.store.getSyncState(e.id) : null,
      health: this.health.report(),
      frames: this.stats.frames,
      fleet: this.fleet?.detail() ?? null,
    };
  }

  private get config(): Config {
    return this.opts.config;
  }

  /** Healthy for the systemd watchdog: the loop is alive and frames arrive, or no camera is expected. */
  healthy(): boolean {
    if (!this.source) return true;
    return performance.now() - this.lastFrameAt < Math.max(30_000, this.config.camera.stallTimeoutMs * 6);
  }

  async start(): Promise<void> {
    const c = this.config;
    // The relay first, and its fail-safe before anything can fail: it must never be left energised.
    // One process drives the line: `relay test` refuses while this lock is held.
    this.releaseRelayLock = acquireRelayLock(this.opts.dataDir, 'gate-agent run');
    this.relay = createRelay(c.relay);
    // SIGHUP is not a stop here: it re-reads the config (service/reload-signal.ts).
    const offFailSafe = installRelayFailSafe(this.relay, { signals: ['SIGTERM', 'SIGINT'] });
    const offReload = onReloadSignal(() => this.reload(), log);
    this.removeFailSafe = () => {
      offFailSafe();
      offReload();
    };
    await this.relay.start();
    log.info({ gateId: c.gateId, siteId: c.siteId, configFile: this.opts.configFile, dataDir: this.opts.dataDir, version: VERSION }, 'gate-agent starting');
    log.info({ relay: this.relay.driver }, this.relay.driver === 'sim' ? 'relay: simulated (no GPIO on this machine); pulses are only recorded' : `relay: ${this.relay.driver} on line ${c.relay.pin}`);
    this.health.set('relay', true, `${this.relay.driver} on line ${c.relay.pin}, driven inactive`);

    const budget = threadBudget({ imageThreads: c.vision.imageThreads, loadWorkers: c.match.loadWorkers });
    applyImageThreads(budget.imageThreads);
    log.info({ ...budget, onnxThreads: c.models.threads, inferenceWorker: c.vision.inferenceWorker, uvThreadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4) }, 'thread budget');
    this.rec = await startRecognition(c, this.opts.modelsDir, this.opts.dataDir);
    watchInference(this.rec.pipeline, (ok, detail) => this.health.set('vision', ok, detail));
    this.identity = { gateId: c.gateId, siteId: c.siteId, eventId: '', modelId: this.rec.embedderId };
    this.outbox = new Outbox(this.rec.store.db, { identity: this.identity, maxMessages: c.mqtt.outboxMaxMessages, ...sealerOf(this.rec.store) });
    this.fleet = new FleetLink({ config: c, db: this.rec.store.db, baseTopic: baseTopicOf(c.mqtt, c), version: VERSION, health: this.health, now: this.now, mono: this.mono, policy: () => this.policy, eventId: () => this.event?.id ?? null, recordConflict: (x) => this.recordEvent('fleet_conflict', FleetLink.conflictEvent(x)) });
    this.housekeeping();

    if (c.mqtt.brokerUrl) {
      this.publisher = new MqttPublisher({ ...c.mqtt, brokerUrl: c.mqtt.brokerUrl }, { outbox: this.outbox, identity: { ...this.identity, version: VERSION } });
      this.publisher.onCommand('open', async (p) => {
        // The answer says what the line did: refused while stopping, or the driver's outcome.
        if (this.abort.signal.aborted) return { opened: false, reason: 'the gate is stopping' };
        try {
          this.unsettledPulses++;
          await this.relay!.pulseChecked(Math.min(p.pulseMs ?? c.relay.pulseMs, c.relay.pulseMs));
          return { opened: true };
        } catch (err) {
          return { opened: false, reason: (err as Error).message };
        }
      });
      this.publisher.onCommand('reload', () => ({ changed: this.reload() }));
      this.publisher.onCommand('sync', async () => {
        if (!this.sync?.enabled) throw new Error('sync.baseUrl is not set on this gate');
        const results = await this.sync.runNow();
        return { attendees: results.reduce((n, r) => n + r.attendees, 0) };
      });
      this.publisher.start();
      log.info({ broker: this.publisher.status().broker }, 'publishing results over MQTT');
    } else {
      log.info({ queued: this.outbox.depth() }, 'mqtt.brokerUrl not set: results are kept in the local outbox');
    }

    this.relay.on('door-held-open', ({ openForMs }) => this.outbox!.recordEvent('door_held', { openMs: openForMs }));
    this.relay.on('door-forced', () => this.outbox!.recordEvent('door_forced', {}));
    this.relay.on('error', (err) => {
      this.status.relayFault(err.message);
      this.health.set('relay', false, err.message);
      this.recordEvent('relay_fault', { error: err.message });
    });
    this.relay.on('pulse-ended', ({ ok, error }) => {
      this.status.pulseEnded(ok, error);
      this.settlePulses(ok);
      this.health.set('relay', ok, ok ? `${this.relay!.driver}: last pulse confirmed` : (error ?? 'pulse failed'));
    });

    this.fleet.start();
    if (c.api.enabled) await this.startApi();

    this.sync = new SyncScheduler({
      config: c,
      store: this.rec.store,
      pipeline: this.rec.pipeline,
      modelId: this.rec.embedderId,
      fetchPhoto: (baseUrl) => photoFetcher({ baseUrl, maxPhotoBytes: c.sync.maxPhotoBytes, requestTimeoutMs: c.sync.requestTimeoutMs }),
      extraEvents: () => (c.event.id ? [c.event.id] : []),
      onDone: (results, durationMs) => {
        const attendees = results.reduce((n, r) => n + r.attendees, 0);
        log.info({ attendees, durationMs }, 'sync done');
        this.outbox!.recordEvent('sync_done', { attendees, durationMs });
        this.selectEvent();
      },
      onFailed: (error) => {
        log.warn({ error }, 'sync failed; deciding from the cached attendees');
        this.outbox!.recordEvent('sync_failed', { error });
      },
    });
    this.sync.start();

    await this.startCamera();

    this.timers.push(setInterval(() => this.tick(), TICK_MS));
    this.timers.push(setInterval(() => this.housekeeping(), c.daemon.purgeIntervalMs));
    this.status.start();
    this.health.on('change', () => this.status.update());
    await this.notify.ready(this.health.report().summary);
    log.info({ event: this.event?.id ?? null }, 'gate-agent running');
  }

  /** The identity endpoint; a failure to listen (a busy port) is an API fault: the door keeps working. */
  private async startApi(): Promise<void> {
    const c = this.config;
    const critical: HealthPart[] = ['event', 'camera', 'relay', 'store', 'vision', ...(this.fleet?.enabled ? (['fleet'] as const) : [])];
    try {
      this.api = await startApiService({
        config: c,
        rec: this.rec!,
        outbox: this.outbox!,
        metrics: this.metrics,
        // Readiness is the gate's own account: each part as it was last seen working or failing.
        readiness: critical.map((part) => ({
          name: part,
          check: () => {
            const h = this.health.get(part);
            return !h ? { ready: false, reason: `${part}: not seen working yet` } : h.ok ? { ready: true } : { ready: false, reason: h.detail };
          },
        })),
      });
    } catch (err) {
      this.health.set('api', false, `identity endpoint not served on ${c.api.host}:${c.api.port}: ${(err as Error).message}`);
      return;
    }
    this.gateMetrics.syncAgeSeconds.collect(() => {
      const at = this.event ? this.rec!.store.getSyncState(this.event.id).lastSuccessAt : null;
      return at === null ? NaN : (this.now() - at) / 1000;
    });
    this.health.set('api', true, `serving on ${this.api.address.host}:${this.api.address.port}`);
    log.info({ address: this.api.address }, `identity endpoint on http://${this.api.address.host}:${this.api.address.port}`);
  }

  /**
   * The camera. One that is missing or cannot start (no device yet, a replay path that does
   * not exist) is a camera fault looked for again with backoff, like a camera lost later:
   * the daemon, its API and its outbox keep running. A --once replay that cannot start fails.
   */
  private async startCamera(attempt = 0): Promise<void> {
    this.cameraRetry = undefined;
    if (this.abort.signal.aborted) return;
    const c = this.config.camera;
    const cam = chooseCamera(c);
    if (attempt === 0) log.info({ camera: cam.description }, `camera: ${cam.description}`);
    let problem: string | null = cam.options ? null : cam.description;
    let source: FrameSource | null = null;
    if (cam.options) {
      source = createFrameSource({ ...cam.options, id: 'camera' });
      try {
        await source.start();
      } catch (err) {
        problem = (err as Error).message.replace(/\n\s*/g, ' ');
        source = null;
      }
    }
    if (!source || problem !== null) {
      if (this.opts.once) throw new Error(problem ?? 'no camera');
      const retryInMs = backoffDelayMs(attempt, c.restartBackoffMinMs, c.restartBackoffMaxMs);
      this.health.set('camera', false, `${problem}; looking again every ${Math.round(retryInMs / 1000)} s or less`);
      this.cameraRetry = setTimeout(() => void this.startCamera(attempt + 1).catch((err: Error) => log.error({ err: err.message }, 'camera start failed')), retryInMs);
      return;
    }
    const src = source;
    src.on('lost', (e) => {
      log.warn({ reason: e.reason, retryInMs: e.retryInMs }, 'camera lost; restarting it');
      this.health.set('camera', false, `lost: ${e.reason}; restarting it`);
      this.recordEvent('camera_lost', { source: src.id, error: e.reason });
    });
    src.on('restored', (e) => {
      log.info({ downMs: e.downMs }, 'camera restored');
      this.recordEvent('camera_restored', { source: src.id, downMs: e.downMs });
    });
    src.on('error', (err) => log.warn({ err: err.message }, 'camera error'));
    this.source = src;
    this.cameraDescription = cam.description;
    this.lastFrameAt = performance.now();
    this.loopDone = this.frameLoop(src);
  }

  private cameraDescription = '';

  /** The broker as the publisher last saw it (results queue in the outbox meanwhile). */
  private noteBroker(): void {
    if (!this.publisher) return;
    const st = this.publisher.status();
    if (st.state === 'online') this.health.set('broker', true, `connected to ${st.broker}`);
    else if (st.state !== 'stopped' && st.failedAttempts > 0) this.health.set('broker', false, `${st.state}: ${st.lastError ?? 'not connected'}; results wait in the outbox`);
  }

  /** Every channel at once: the log, sd_notify STATUS=, the MQTT status, an event when it can be recorded. */
  private announceHealth(report: HealthReport, part: HealthPart, wasOk: boolean | undefined, now: PartHealth): void {
    if (!now.ok) log.error({ part, detail: now.detail }, `${part} fault: ${now.detail}`);
    else if (wasOk === false) log.info({ part, detail: now.detail }, `${part} ok again: ${now.detail}`);
    this.notify.status(report.summary).catch(() => undefined);
    this.publisher?.setHealth(report);
    if (wasOk !== now.ok && (wasOk !== undefined || !now.ok)) this.recordEvent(now.ok ? 'health_ok' : 'health_fault', { part, detail: now.detail });
  }

  /** An event to the outbox; when the store itself fails, the health status still says so. */
  private recordEvent(type: Parameters<Outbox['recordEvent']>[0], detail: Parameters<Outbox['recordEvent']>[1]): void {
    try {
      this.outbox?.recordEvent(type, detail);
    } catch (err) {
      log.error({ err: (err as Error).message, type }, 'could not record an event');
    }
  }

  private selectEvent(): void {
    const store = this.rec!.store;
    const c = this.config;
    const next = c.event.id ? (store.getEvent(c.event.id) ?? null) : currentEvent(store.listEvents(), this.now(), this.earlyOpenMs());
    if (c.event.id && !next) log.error({ event: c.event.id }, `event ${c.event.id} is not in the local cache: nobody is admitted until it is synced or added`);
    if (next && next.id === this.event?.id) {
      // Same event, maybe a new time window (a sync moved its end): the policy must know.
      if (next.startsAt !== this.event.startsAt || next.endsAt !== this.event.endsAt) {
        this.policy?.setEvent({ startsAt: next.startsAt, endsAt: next.endsAt });
        log.info({ event: next.id, startsAt: next.startsAt, endsAt: next.endsAt }, 'event window changed');
      }
      this.event = next;
      return;
    }
    if (next === null && this.event === null && this.policy) return;
    // The policy first: if it refuses the event (an end before its start), nothing changes.
    this.policy = this.newPolicy(next);
    this.event = next;
    this.identity.eventId = next?.id ?? '';
    log.info({ event: next?.id ?? null }, next ? `admitting attendees of event ${next.id}` : 'no current event: nobody is admitted');
    this.health.set('event', next !== null, next ? `admitting attendees of event ${next.id}` : c.event.id ? `event ${c.event.id} is not in the local cache: nobody is admitted` : 'no current event: nobody is admitted');
  }

  /**
   * The event's stored entries (wall clock) on the policy's monotonic timeline. An entry
   * from the future means the clock stepped back since (or was wrong then): it is logged
   * and not trusted to lock anyone out.
   */
  private entriesNow(eventId: string): [string, number][] {
    const wall = this.now();
    const mono = this.mono();
    const out: [string, number][] = [];
    const stored = this.rec!.store.entries(eventId);
    for (const [userId, at] of this.fleet?.withPeerEntries(eventId, stored) ?? stored) {
      const m = entryOnMonotonic(at, wall, mono);
      if (m === null) log.warn({ userId, entryAt: new Date(at).toISOString(), now: new Date(wall).toISOString() }, 'a stored entry lies in the future (the clock went back?): not used for anti-passback');
      else out.push([userId, m]);
    }
    return out;
  }

  /** A policy for the current event, with its anti-passback entries from the store. */
  private newPolicy(e: EventRow | null = this.event): GatePolicy {
    this.matcher?.reset();
    this.tickets = new TicketWindow(this.config.gate.ticketWindowMs);
    const policy = new GatePolicy(
      { ...this.config.gate, liveness: this.config.liveness, initialEntries: e ? this.entriesNow(e.id) : [] },
      e ? { startsAt: e.startsAt, endsAt: e.endsAt } : { startsAt: null, endsAt: null },
    );
    this.fleet?.configure(policy);
    return policy;
  }

  /**
   * Re-read the config file; match, quality and gate settings apply at once, the rest
   * is reported as needing a restart. Returns what changed.
   */
  reload(): string[] {
    if (!this.opts.configFile) return [];
    const next = loadConfig({ file: this.opts.configFile, overrides: { dataDir: this.opts.dataDir } });
    const c = this.opts.config;
    const changed: string[] = [];
    for (const key of Object.keys(next) as (keyof Config)[]) {
      if (JSON.stringify(next[key]) === JSON.stringify(c[key])) continue;
      if (key === 'match' || key === 'quality' || key === 'gate') {
        Object.assign(c[key], next[key]);
        changed.push(key);
      } else if (key !== 'dataDir') {
        changed.push(`${key} (takes effect after a restart)`);
      }
    }
    if (changed.includes('gate')) this.policy = this.newPolicy();
    if (['match', 'identification', 'gate', 'quality'].some((k) => changed.includes(k))) this.matcher = undefined;
    log.info({ changed }, 'config reloaded');
    return changed;
  }

  private earlyOpenMs(): number {
    return this.config.gate.earlyOpenMinutes * 60_000;
  }

  /** The store takes writes (a heartbeat row), or the gate says it cannot record decisions. */
  private probeStore(): void {
    try {
      this.rec!.store.heartbeat();
      this.health.set('store', true, 'recording decisions');
    } catch (err) {
      this.health.set('store', false, `cannot record decisions: ${(err as Error).message}; the door stays shut until it can`);
    }
  }

  private purging = false;

  /** Store probe, purge of ended events in bounded steps (never one long delete on the loop), event choice. */
  private housekeeping(): void {
    this.probeStore();
    try {
      this.selectEvent();
    } catch (err) {
      log.error({ err: (err as Error).message }, 'housekeeping failed');
    }
    if (this.purging) return;
    this.purging = true;
    purgeExpiredInBatches(this.rec!.store, { batchRows: this.config.store.purgeBatchRows, signal: this.abort.signal })
      .then((purged) => {
        if (purged.length) log.info({ events: purged }, 'purged attendees of ended events');
        this.selectEvent();
      })
      .catch((err: Error) => log.error({ err: err.message }, 'housekeeping failed'))
      .finally(() => (this.purging = false));
  }

  private tick(): void {
    this.noteBroker();
    if (!this.policy) return;
    for (const d of this.policy.tick(this.now(), this.mono())) this.actLogged(d, null);
  }

  /** act() for decisions made outside the frame loop, whose errors have no one to go to. */
  private actLogged(d: GateDecision, capturedAtMs: number | null): void {
    this.act(d, capturedAtMs).catch((err: Error) => log.error({ err: err.message, reason: d.reason }, 'recording a decision failed'));
  }

  /** Report every open track as if it had expired (end of a replay). */
  flushTracks(): void {
    if (!this.policy) return;
    const past = this.config.gate.trackTtlMs + 1;
    for (const d of this.policy.tick(this.now() + past, this.mono() + past)) this.actLogged(d, null);
  }

  private async frameLoop(source: FrameSource): Promise<void> {
    for (;;) {
      let frame: Frame;
      try {
        frame = await source.next(this.abort.signal);
      } catch (err) {
        if (err instanceof FrameSourceClosedError || this.abort.signal.aborted) {
          if (err instanceof FrameSourceClosedError && err.reason === 'ended') {
            log.info('camera source ended');
            if (this.opts.once) this.finish();
          }
          return;
        }
        log.error({ err: (err as Error).message }, 'frame source failed');
        continue;
      }
      this.lastFrameAt = performance.now();
      if (!this.health.get('camera')?.ok) this.health.set('camera', true, `${this.cameraDescription}: frames arriving`);
      // API recognitions wait while a frame is in progress: the door never waits for the API.
      this.api?.priority.frameStarted();
      try {
        await this.processFrame(frame);
      } catch (err) {
        // A bad frame must never stop the gate.
        this.stats.framesFailed++;
        log.warn({ err: (err as Error).message, seq: frame.seq }, 'frame skipped');
      } finally {
        this.api?.priority.frameEnded();
      }
    }
  }

  async processFrame(frame: Frame): Promise<GateDecision[]> {
    const { pipeline, galleries, config } = { ...this.rec!, config: this.config };
    this.stats.frames++;
    this.noticeOutsideChanges();
    if (!this.event || !this.policy) return [];
    const t0 = performance.now();
    const img = await frameImage(frame, config.vision.maxImagePixels);
    const decodeMs = performance.now() - t0;
    const res = await pipeline.analyze(img, { lane: 'camera', retryEmpty: config.daemon.retryEmptyFrames, embed: true, maxEmbedFaces: config.daemon.maxFacesPerFrame, minEmbedInterEyePx: config.quality.minInterEyePx });
    const t1 = performance.now();
    const gallery = await galleries.get(this.event.id);
    const matcher = this.frameMatcher();
    const ticket = config.gate.mode === 'identify' ? null : this.readTicket(img);
    // Fusion over frames is timed on the monotonic clock, like the tracks it follows.
    const { faces, threshold } = await matcher.match(res.faces, gallery, this.mono(), ticket?.userId ?? null);
    this.noteThreshold(threshold.threshold, threshold.attendees);
    let livenessMs = 0;
    for (const [i, face] of faces.entries()) {
      const f = res.faces[i]!;
      // Liveness only where it can change a decision: a usable face that matched an attendee.
      if (this.rec!.liveness && face.match?.decision === 'match') {
        const tl = performance.now();
        face.liveness = await this.rec!.liveness.check({ atMs: frame.capturedAtMs, image: img }, f);
        livenessMs += performance.now() - tl;
      }
    }
    const matchMs = performance.now() - t1 - livenessMs;
    const stage = this.gateMetrics.stageSeconds;
    stage.observe(decodeMs / 1000, { stage: 'decode' });
    stage.observe(res.timings.detectMs / 1000, { stage: 'detect' });
    stage.observe(res.timings.embedMs / 1000, { stage: 'embed' });
    stage.observe(matchMs / 1000, { stage: 'match' });
    if (this.rec!.liveness) stage.observe(livenessMs / 1000, { stage: 'liveness' });
    this.stats.livenessMs.push(livenessMs);
    for (const [k, v] of [['decode', decodeMs], ['detect', res.timings.detectMs], ['embed', res.timings.embedMs], ['match', matchMs]] as const) this.stats.stageMs[k].push(v);
    const timings = { decodeMs, detectMs: res.timings.detectMs, alignMs: res.timings.alignMs, embedMs: res.timings.embedMs, matchMs, ...(this.rec!.liveness && { livenessMs }), ...(ticket && { qrMs: ticket.qrMs }) };
    const decisions = this.policy.onFrame({ atMs: this.now(), monoMs: this.mono(), faces, timings });
    if (ticket?.unknown) decisions.unshift(unknownTicketDecision(this.now(), timings));
    for (const d of decisions) {
      await this.act(d, frame.capturedAtMs);
      // One ticket lets one person in.
      if (d.kind === 'grant' && d.userId) this.tickets?.consume(d.userId);
    }
    return decisions;
  }

  /** The ticket QR code in the frame, if any, and the ticket valid now; unknown: a code to report. */
  private readTicket(img: RgbImage): { userId: string | null; unknown: boolean; qrMs: number } {
    const t0 = performance.now();
    const qr = decodeQr(img, this.config.gate.qrScanWidthPx);
    const qrMs = performance.now() - t0;
    const mono = this.mono();
    let unknown = false;
    if (qr !== null && this.event) {
      const scan = this.tickets!.show(qr, this.rec!.store.userByQrId(this.event.id, qr), mono);
      if (scan.kind === 'unknown') unknown = scan.report;
      else if (scan.fresh) log.info({ userId: scan.userId, qrMs: Math.round(qrMs * 10) / 10 }, `ticket of ${scan.userId} shown`);
    }
    return { userId: this.tickets!.current(mono)?.userId ?? null, unknown, qrMs };
  }

  /** The match stage, made on first use and after a reload that changed `match`. */
  private frameMatcher(): FrameMatcher {
    if (!this.matcher) {
      const config = this.config;
      this.matcher = new FrameMatcher(config);
      if (config.gate.mode !== 'identify') log.info({ mode: config.gate.mode, verifyThreshold: this.matcher.verifyThreshold() }, `gate.mode ${config.gate.mode}: a ticket's face is compared 1:1 at threshold ${this.matcher.verifyThreshold()}`);
    }
    return this.matcher;
  }

  /** Logs the effective threshold when it changes (the attendee count moved it). */
  private noteThreshold(threshold: number, attendees: number): void {
    if (threshold !== this.threshold) log.info({ threshold, attendees, event: this.event?.id }, `matching at threshold ${threshold} for ${attendees} attendees`);
    this.threshold = threshold;
  }

  private dataVersion = -1;

  /**
   * Another process (a CLI command: attendees remove, sync, purge) changed the database:
   * this connection's change events did not see it, so the galleries are rebuilt.
   * PRAGMA data_version changes only on other connections' commits; it costs microseconds.
   */
  private noticeOutsideChanges(): void {
    const v = this.rec!.store.db.pragma('data_version', { simple: true }) as number;
    if (this.dataVersion !== -1 && v !== this.dataVersion) {
      log.info('the database was changed by another process: reloading attendees');
      this.rec!.galleries.reloadAll();
      this.selectEvent();
    }
    this.dataVersion = v;
  }

  /** Record the decision (and its outgoing message) first, then open the door. */
  private async act(decision: GateDecision, capturedAtMs: number | null): Promise<void> {
    const eventId = this.event?.id;
    let d = decision;
    const attendee = d.userId && eventId ? (this.rec!.store.getSession(eventId, d.userId) ?? null) : null;
    // Deleted between the gallery search and now (by another process): never let them in.
    if (d.kind === 'grant' && !attendee) d = { ...d, kind: 'deny', reason: 'attendee_removed', detail: 'the attendee was removed from the cache' };
    // The relay was made safe when shutdown began; a late grant must not energise it again.
    if (d.kind === 'grant' && this.abort.signal.aborted) d = { ...d, kind: 'deny', reason: 'gate_stopping', detail: 'decided while the gate was stopping' };
    this.stats.decisions[d.reason] = (this.stats.decisions[d.reason] ?? 0) + 1;
    this.status.decision(d);
    this.gateMetrics.decisions.inc({ reason: d.reason });
    const timingsMs = Object.fromEntries(Object.entries(d.timings).map(([k, v]) => [k, Math.round(v * 10) / 10]));
    // Recorded first; a gate that cannot record (disk full, read-only) opens nothing.
    try {
      this.rec!.store.transaction(() => {
        this.outbox!.recordDecision({ decision: publishedDecision(d), reason: d.reason, similarity: d.similarity, timingsMs, atMs: d.atMs, ...(d.liveness && { liveness: d.liveness }), ...((d.threshold ?? this.threshold) !== undefined ? { threshold: d.threshold ?? this.threshold } : {}) }, attendee);
        if (d.kind === 'grant' && eventId && d.userId) {
          this.rec!.store.recordEntry(eventId, d.userId, d.atMs);
          this.fleet?.recordGrant(eventId, d.userId, d.atMs);
        }
      });
    } catch (err) {
      this.health.set('store', false, `cannot record decisions: ${(err as Error).message}; the door stays shut until it can`);
      throw err;
    }
    this.health.set('store', true, 'recording decisions');
    let frameToRelayMs: number | undefined;
    if (d.kind === 'grant') {
      try {
        this.unsettledPulses++;
        await this.relay!.pulse();
        if (capturedAtMs !== null) this.stats.grantLatencyMs.push((frameToRelayMs = performance.now() - capturedAtMs));
      } catch (err) {
        this.settlePulses(false);
        this.status.relayFault((err as Error).message);
        log.error({ err: (err as Error).message }, 'relay pulse failed');
        this.outbox!.recordEvent('relay_fault', { error: (err as Error).message });
      }
    }
    log.info({ decision: d.kind, reason: d.reason, userId: d.userId, similarity: d.similarity, liveness: d.liveness?.score ?? null, threshold: d.threshold ?? this.threshold, track: d.trackId, ...(frameToRelayMs !== undefined && { frameToRelayMs: Math.round(frameToRelayMs) }) }, d.kind === 'grant' ? `granted: ${d.userId}` : `denied: ${d.reason}${d.userId ? ` (${d.userId})` : ''}`);
  }

  /** The relay reported the outcome of the pulses asked for so far (they merged into one). */
  private settlePulses(ok: boolean): void {
    if (this.unsettledPulses === 0) return;
    if (ok) this.stats.pulses += this.unsettledPulses;
    else this.stats.pulseFailures += this.unsettledPulses;
    this.unsettledPulses = 0;
    for (const w of this.pulsesSettledWaiters.splice(0)) w();
  }

  /** Resolves once every pulse asked for has an outcome, or after timeoutMs (they stay unconfirmed). */
  async pulsesSettled(timeoutMs = this.config.relay.pulseMs + 3000): Promise<void> {
    if (this.unsettledPulses === 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.pulsesSettledWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** No more grants or pulses from now on (shutdown began); the frame loop ends at its next frame. */
  halt(): void {
    this.abort.abort();
    this.relay?.refusePulses('the gate is stopping');
  }

  /** Stop in order: relay safe first, then camera and loop, network, models, database last. */
  components(): { name: string; stop(): unknown }[] {
    return [
      { name: 'frame loop', stop: async () => { this.abort.abort(); clearTimeout(this.cameraRetry); for (const t of this.timers) clearInterval(t); this.status.stop(); await this.source?.stop(); await this.loopDone; } },
      { name: 'sync', stop: () => this.sync?.stop() },
      { name: 'api', stop: () => this.api?.close() },
      { name: 'fleet', stop: () => this.fleet?.stop() },
      { name: 'publisher', stop: () => this.publisher?.stop() },
      { name: 'relay', stop: () => this.relay?.stop() },
      { name: 'recognition', stop: () => this.rec?.stop() },
      { name: 'fail-safe', stop: () => this.removeFailSafe?.() },
      { name: 'relay lock', stop: () => this.releaseRelayLock?.() },
    ];
  }

  async stop(): Promise<void> {
    this.halt();
    this.relay?.safe();
    for (const c of this.components()) {
      try {
        await c.stop();
      } catch (err) {
        log.error({ component: c.name, err: (err as Error).message }, 'stop failed');
      }
    }
  }
}
