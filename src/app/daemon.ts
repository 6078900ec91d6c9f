// The composition root of `gate-agent run`: builds every component, owns their
// lifecycle, and runs the frame loop camera -> vision -> match -> policy -> relay,
// recording each decision in the outbox before the relay fires.
import { readFileSync } from 'node:fs';
import { createFrameSource, FrameSourceClosedError, type Frame, type FrameSource } from '../capture/index.js';
import type { Config } from '../config/types.js';
import { GatePolicy } from '../gate/policy.js';
import type { GateDecision } from '../gate/types.js';
import { logger } from '../log.js';
import { FrameMatcher } from './frame-match.js';
import { Outbox } from '../publish/outbox.js';
import { sealerOf } from '../store/open.js';
import { MqttPublisher } from '../publish/publisher.js';
import type { Decision } from '../publish/topics.js';
import { acquireRelayLock, createRelay, installRelayFailSafe, type Relay } from '../relay/index.js';
import { SdNotify } from '../service/sdnotify.js';
import type { EventRow } from '../store/attendees.js';
import { decodeImage } from '../vision/image.js';
import { chooseCamera } from './camera.js';
import { startApiService, type ApiService } from './identity.js';
import { MetricsRegistry, registerGateMetrics } from '../api/metrics.js';
import { startRecognition, type Recognition } from './recognition.js';
import { currentEvent } from './schedule.js';
import { SyncScheduler } from '../sync/scheduler.js';
import { loadConfig } from '../config/load.js';

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
}

export interface DaemonStats {
  frames: number;
  framesFailed: number;
  decisions: Record<string, number>;
  /** Pulses the relay driver confirmed (the line was driven); a failed one counts in pulseFailures. */
  pulses: number;
  pulseFailures: number;
  /** Frame capture to relay energised, per grant, ms. */
  grantLatencyMs: number[];
}

const publishedDecision = (d: GateDecision): Decision => (d.kind === 'grant' ? 'granted' : d.reason === 'unknown_face' ? 'unknown' : 'denied');

export class GateDaemon {
  readonly stats: DaemonStats = { frames: 0, framesFailed: 0, decisions: {}, pulses: 0, pulseFailures: 0, grantLatencyMs: [] };
  /** pulse() calls whose outcome the relay has not reported yet (a newer pulse merges with them). */
  private unsettledPulses = 0;
  private pulsesSettledWaiters: (() => void)[] = [];
  private releaseRelayLock: (() => void) | undefined;
  relay: Relay | undefined;
  rec: Recognition | undefined;
  outbox: Outbox | undefined;
  publisher: MqttPublisher | undefined;
  source: FrameSource | null = null;
  api: ApiService | undefined;
  sync: SyncScheduler | undefined;
  readonly metrics = new MetricsRegistry();
  private gateMetrics = registerGateMetrics(this.metrics);
  event: EventRow | null = null;
  private policy: GatePolicy | undefined;
  private matcher: FrameMatcher | undefined;
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

  constructor(private readonly opts: DaemonOptions) {
    this.now = opts.now ?? Date.now;
    this.notify = opts.notify ?? new SdNotify({ healthy: () => this.healthy() });
    this.finished = new Promise((r) => (this.finish = r));
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
    this.removeFailSafe = installRelayFailSafe(this.relay);
    await this.relay.start();
    log.info({ gateId: c.gateId, siteId: c.siteId, configFile: this.opts.configFile, dataDir: this.opts.dataDir, version: VERSION }, 'gate-agent starting');
    log.info({ relay: this.relay.driver }, this.relay.driver === 'sim' ? 'relay: simulated (no GPIO on this machine); pulses are only recorded' : `relay: ${this.relay.driver} on line ${c.relay.pin}`);

    this.rec = await startRecognition(c, this.opts.modelsDir, this.opts.dataDir);
    this.identity = { gateId: c.gateId, siteId: c.siteId, eventId: '', modelId: this.rec.embedderId };
    this.outbox = new Outbox(this.rec.store.db, { identity: this.identity, maxMessages: c.mqtt.outboxMaxMessages, ...sealerOf(this.rec.store) });
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
    this.relay.on('error', (err) => this.outbox!.recordEvent('relay_fault', { error: err.message }));
    this.relay.on('pulse-ended', ({ ok }) => this.settlePulses(ok));

    if (c.api.enabled) {
      this.api = await startApiService({
        config: c,
        rec: this.rec,
        outbox: this.outbox,
        metrics: this.metrics,
        readiness: [
          { name: 'event', check: () => (this.event ? { ready: true } : { ready: false, reason: 'no current event: nobody is admitted' }) },
          { name: 'camera', check: () => (this.healthy() ? { ready: true } : { ready: false, reason: 'no frame from the camera recently' }) },
        ],
      });
      this.gateMetrics.syncAgeSeconds.collect(() => {
        const at = this.event ? this.rec!.store.getSyncState(this.event.id).lastSuccessAt : null;
        return at === null ? NaN : (this.now() - at) / 1000;
      });
      log.info({ address: this.api.address }, `identity endpoint on http://${this.api.address.host}:${this.api.address.port}`);
    }

    this.sync = new SyncScheduler({
      config: c,
      store: this.rec.store,
      pipeline: this.rec.pipeline,
      modelId: this.rec.embedderId,
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

    const cam = chooseCamera(c.camera);
    log.info({ camera: cam.description }, `camera: ${cam.description}`);
    if (cam.options) {
      const source = createFrameSource({ ...cam.options, id: 'camera' });
      source.on('lost', (e) => {
        log.warn({ reason: e.reason, retryInMs: e.retryInMs }, 'camera lost; restarting it');
        this.outbox!.recordEvent('camera_lost', { source: source.id, error: e.reason });
      });
      source.on('restored', (e) => {
        log.info({ downMs: e.downMs }, 'camera restored');
        this.outbox!.recordEvent('camera_restored', { source: source.id, downMs: e.downMs });
      });
      source.on('error', (err) => log.warn({ err: err.message }, 'camera error'));
      await source.start();
      this.source = source;
      this.lastFrameAt = performance.now();
      this.loopDone = this.frameLoop(source);
    }

    this.timers.push(setInterval(() => this.tick(), TICK_MS));
    this.timers.push(setInterval(() => this.housekeeping(), c.daemon.purgeIntervalMs));
    await this.notify.ready(`gate ${c.gateId}: ${this.event ? `event ${this.event.id}` : 'no current event'}`);
    log.info({ event: this.event?.id ?? null }, 'gate-agent running');
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
  }

  /** A policy for the current event, with its anti-passback entries from the store. */
  private newPolicy(e: EventRow | null = this.event): GatePolicy {
    this.matcher?.reset();
    return new GatePolicy(
      { ...this.config.gate, initialEntries: e ? this.rec!.store.entries(e.id) : [] },
      e ? { startsAt: e.startsAt, endsAt: e.endsAt } : { startsAt: null, endsAt: null },
    );
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
    if (changed.includes('match')) this.matcher = undefined;
    log.info({ changed }, 'config reloaded');
    return changed;
  }

  private earlyOpenMs(): number {
    return this.config.gate.earlyOpenMinutes * 60_000;
  }

  private housekeeping(): void {
    try {
      const purged = this.rec!.store.purgeExpired();
      if (purged.length) log.info({ events: purged }, 'purged attendees of ended events');
      this.selectEvent();
    } catch (err) {
      log.error({ err: (err as Error).message }, 'housekeeping failed');
    }
  }

  private tick(): void {
    if (!this.policy) return;
    for (const d of this.policy.tick(this.now())) this.actLogged(d, null);
  }

  /** act() for decisions made outside the frame loop, whose errors have no one to go to. */
  private actLogged(d: GateDecision, capturedAtMs: number | null): void {
    this.act(d, capturedAtMs).catch((err: Error) => log.error({ err: err.message, reason: d.reason }, 'recording a decision failed'));
  }

  /** Report every open track as if it had expired (end of a replay). */
  flushTracks(): void {
    if (!this.policy) return;
    for (const d of this.policy.tick(this.now() + this.config.gate.trackTtlMs + 1)) this.actLogged(d, null);
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
      try {
        await this.processFrame(frame);
      } catch (err) {
        // A bad frame must never stop the gate.
        this.stats.framesFailed++;
        log.warn({ err: (err as Error).message, seq: frame.seq }, 'frame skipped');
      }
    }
  }

  async processFrame(frame: Frame): Promise<GateDecision[]> {
    const { pipeline, galleries, config } = { ...this.rec!, config: this.config };
    this.stats.frames++;
    this.noticeOutsideChanges();
    if (!this.event || !this.policy) return [];
    const t0 = performance.now();
    const img = await decodeImage(frame.data, { maxPixels: config.vision.maxImagePixels });
    const decodeMs = performance.now() - t0;
    const res = await pipeline.analyze(img, { embed: true, maxEmbedFaces: config.daemon.maxFacesPerFrame, minEmbedInterEyePx: config.quality.minInterEyePx });
    const t1 = performance.now();
    const gallery = await galleries.get(this.event.id);
    this.matcher ??= new FrameMatcher(config);
    const { faces, threshold } = await this.matcher.match(res.faces, gallery, this.now());
    this.noteThreshold(threshold.threshold, threshold.attendees);
    const matchMs = performance.now() - t1;
    const stage = this.gateMetrics.stageSeconds;
    stage.observe(decodeMs / 1000, { stage: 'decode' });
    stage.observe(res.timings.detectMs / 1000, { stage: 'detect' });
    stage.observe(res.timings.embedMs / 1000, { stage: 'embed' });
    stage.observe(matchMs / 1000, { stage: 'match' });
    const decisions = this.policy.onFrame({
      atMs: this.now(),
      faces,
      timings: { decodeMs, detectMs: res.timings.detectMs, alignMs: res.timings.alignMs, embedMs: res.timings.embedMs, matchMs },
    });
    for (const d of decisions) await this.act(d, frame.capturedAtMs);
    return decisions;
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
    this.gateMetrics.decisions.inc({ reason: d.reason });
    const timingsMs = Object.fromEntries(Object.entries(d.timings).map(([k, v]) => [k, Math.round(v * 10) / 10]));
    this.rec!.store.transaction(() => {
      this.outbox!.recordDecision({ decision: publishedDecision(d), reason: d.reason, similarity: d.similarity, timingsMs, atMs: d.atMs, ...(this.threshold !== undefined ? { threshold: this.threshold } : {}) }, attendee);
      if (d.kind === 'grant' && eventId && d.userId) this.rec!.store.recordEntry(eventId, d.userId, d.atMs);
    });
    if (d.kind === 'grant') {
      try {
        this.unsettledPulses++;
        await this.relay!.pulse();
        if (capturedAtMs !== null) this.stats.grantLatencyMs.push(performance.now() - capturedAtMs);
      } catch (err) {
        this.settlePulses(false);
        log.error({ err: (err as Error).message }, 'relay pulse failed');
        this.outbox!.recordEvent('relay_fault', { error: (err as Error).message });
      }
    }
    log.info({ decision: d.kind, reason: d.reason, userId: d.userId, similarity: d.similarity, threshold: this.threshold, track: d.trackId }, d.kind === 'grant' ? `granted: ${d.userId}` : `denied: ${d.reason}${d.userId ? ` (${d.userId})` : ''}`);
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
      { name: 'frame loop', stop: async () => { this.abort.abort(); for (const t of this.timers) clearInterval(t); await this.source?.stop(); await this.loopDone; } },
      { name: 'sync', stop: () => this.sync?.stop() },
      { name: 'api', stop: () => this.api?.close() },
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
