// `gate-agent run`: the shared stack (stack.ts) plus the relay, the camera and the gate
// (gate.ts). The daemon holds what exists from the first moment (health, status, the
// stop order) and builds the rest in start(): the relay first, then the models, then
// the gate with every part it uses already made.
import type { Frame, FrameSource } from '../capture/index.js';
import { MetricsRegistry, registerGateMetrics } from '../api/metrics.js';
import type { ApiService } from './identity.js';
import type { GateDecision } from '../gate/types.js';
import { logger } from '../log.js';
import type { Outbox } from '../publish/outbox.js';
import type { MqttPublisher } from '../publish/publisher.js';
import type { Relay } from '../relay/index.js';
import { SdNotify } from '../service/sdnotify.js';
import type { EventRow } from '../store/attendees.js';
import type { SyncScheduler } from '../sync/scheduler.js';
import type { AgentContext } from './context.js';
import { VERSION } from '../version.js';
import type { FleetLink } from './fleet-link.js';
import { RunningGate } from './gate.js';
import { newStats, type DaemonStats } from './gate-stats.js';
import { GateHealth, type HealthPart, type HealthReport, type PartHealth } from './health.js';
import type { Recognition } from './recognition.js';
import { holdRelay, type RelayHold } from './relay-hold.js';
import { reloadConfig } from './reload.js';
import { AgentStack } from './stack.js';
import { GateStatus, gateDetailOf, type StatusInputs } from './status.js';
import { applyImageThreads, oversubscribed, threadBudget } from './thread-budget.js';
import { modelThreads } from '../vision/factory.js';
import { errorText } from '../errors.js';
import { watchInference } from './vision-health.js';

export type { DaemonStats } from './gate-stats.js';

const log = logger('daemon');

export interface DaemonOptions extends AgentContext {
  /** Stop by itself when the camera source ends (a replay that does not loop). */
  once?: boolean;
  notify?: SdNotify;
  /** Wall-clock time (epoch ms) for decisions and event windows; tests inject their own. */
  now?: () => number;
  /** Monotonic time (ms) for durations: track lifetime, cooldown, anti-passback. Default performance.now. */
  mono?: () => number;
}

export class GateDaemon {
  readonly stats: DaemonStats = newStats();
  readonly metrics = new MetricsRegistry();
  private readonly gateMetrics = registerGateMetrics(this.metrics);
  private readonly abort = new AbortController();
  /** Built by start(), in this order; null before (or when start failed first). */
  private hold: RelayHold | null = null;
  private stack: AgentStack | null = null;
  private gate: RunningGate | null = null;
  private readonly notify: SdNotify;
  /** Resolves when the daemon wants to stop by itself (--once and the replay ended). */
  readonly finished: Promise<void>;
  private readonly finish: () => void;
  private readonly now: () => number;
  private readonly mono: () => number;
  /** What each part was last seen doing; /healthz, MQTT status, sd_notify and the log read it. */
  readonly health: GateHealth;
  /** <dataDir>/status.json for `gate-agent status`. */
  readonly status: GateStatus;

  constructor(private readonly opts: DaemonOptions) {
    this.now = opts.now ?? Date.now;
    this.mono = opts.mono ?? (() => performance.now());
    this.health = new GateHealth(opts.config.gateId, this.now);
    this.health.on('change', (report, { part, was, now }) => this.announceHealth(report, part, was?.ok, now));
    this.notify = opts.notify ?? new SdNotify({ healthy: () => this.healthy() });
    let finish = (): void => undefined;
    this.finished = new Promise((r) => (finish = r));
    this.finish = finish;
    const d = opts.config.daemon;
    this.status = new GateStatus({ dataDir: opts.dataDir, configFile: opts.configFile, intervalMs: d.statusIntervalMs, fpsWindowMs: d.statusFpsWindowMs, now: this.now, mono: this.mono, collect: () => this.statusInputs(), onSnapshot: (s) => this.publisher?.setDetail(gateDetailOf(s)), onError: (err) => log.warn({ err: err.message }, 'cannot write status.json') });
  }

  // The parts, for the CLI, the tests and the benchmarks; undefined/null until built.
  get relay(): Relay | undefined {
    return this.hold?.relay;
  }
  get rec(): Recognition | undefined {
    return this.stack?.rec;
  }
  get outbox(): Outbox | undefined {
    return this.stack?.outbox;
  }
  get publisher(): MqttPublisher | undefined {
    return this.stack?.publisher ?? undefined;
  }
  get api(): ApiService | undefined {
    return this.stack?.api ?? undefined;
  }
  get fleet(): FleetLink | undefined {
    return this.gate?.fleet;
  }
  get sync(): SyncScheduler | undefined {
    return this.gate?.sync;
  }
  get source(): FrameSource | null {
    return this.gate?.camera.source ?? null;
  }
  get event(): EventRow | null {
    return this.gate?.events.event ?? null;
  }

  /** Healthy for the systemd watchdog: the loop is alive and frames arrive, or no camera is expected. */
  healthy(): boolean {
    return this.gate?.camera.healthy() ?? true;
  }

  async start(): Promise<void> {
    const c = this.opts.config;
    // The relay first, and its fail-safe before anything can fail: it must never be left energised.
    const hold = holdRelay(c, this.opts.dataDir, () => this.reload());
    this.hold = hold;
    const relay = hold.relay;
    await relay.start();
    log.info({ gateId: c.gateId, siteId: c.siteId, configFile: this.opts.configFile, dataDir: this.opts.dataDir, version: VERSION }, 'gate-agent starting');
    log.info({ relay: relay.driver }, relay.driver === 'sim' ? 'relay: simulated (no GPIO on this machine); pulses are only recorded' : `relay: ${relay.driver} on line ${c.relay.pin}`);
    this.health.set('relay', true, `${relay.driver} on line ${c.relay.pin}, driven inactive`);

    const budget = threadBudget({ imageThreads: c.vision.imageThreads, loadWorkers: c.match.loadWorkers, inferenceWorkers: c.vision.inferenceWorker ? c.vision.inferenceWorkers : 1, onnxThreads: modelThreads(c) });
    applyImageThreads(budget.imageThreads);
    log.info({ ...budget, inferenceWorker: c.vision.inferenceWorker, uvThreadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4) }, 'thread budget');
    const over = oversubscribed(budget);
    if (over) log.warn({ ...budget }, over);
    const stack = await AgentStack.open(this.opts, this.metrics);
    this.stack = stack;
    watchInference(stack.rec.pipeline, (ok, detail) => this.health.set('vision', ok, detail));
    const gate = new RunningGate({
      ctx: { ...this.opts, once: this.opts.once ?? false },
      stack,
      relay,
      health: this.health,
      status: this.status,
      stats: this.stats,
      metrics: this.gateMetrics,
      now: this.now,
      mono: this.mono,
      signal: this.abort.signal,
      finish: this.finish,
      recordEvent: (type, detail) => this.recordEvent(type, detail),
      reload: () => this.reload(),
    });
    this.gate = gate;
    await gate.start();
    this.status.start();
    this.health.on('change', () => this.status.update());
    await this.notify.ready(this.health.report().summary);
    log.info({ event: gate.events.event?.id ?? null }, 'gate-agent running');
  }

  /** The parts' state for status.json; parts not started yet are null. */
  private async statusInputs(): Promise<StatusInputs> {
    const c = this.opts.config;
    const rec = this.stack?.rec;
    const gate = this.gate;
    const e = gate?.events.event ?? null;
    const camera = gate?.camera;
    const src = camera?.source?.status();
    const pub = this.publisher?.status();
    const relay = this.relay?.state();
    const gallery = rec && e ? await rec.galleries.get(e.id) : null;
    return {
      gateId: c.gateId,
      siteId: c.siteId,
      event: e && { id: e.id, attendees: gallery?.attendeeCount ?? null, threshold: gallery && gate ? gate.frames.thresholdFor(gallery).threshold : null },
      camera: src && camera ? { description: camera.description, state: src.state, framesReceived: src.framesReceived, lastError: src.lastError } : camera?.description ? { description: camera.description, state: 'not started', framesReceived: 0, lastError: this.health.get('camera')?.detail ?? null } : null,
      relay: relay ? { driver: relay.driver, active: relay.active } : null,
      broker: pub ? { url: pub.broker, state: pub.state, lastError: pub.lastError, lastErrorAt: pub.lastErrorAt } : null,
      outboxDepth: this.outbox?.depth() ?? null,
      lastSync: e && rec ? rec.store.getSyncState(e.id) : null,
      health: this.health.report(),
      frames: this.stats.frames,
      fleet: this.fleet?.detail() ?? null,
    };
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
      log.error({ err: errorText(err), type }, 'could not record an event');
    }
  }

  /**
   * Re-read the config file; match, quality and gate settings apply at once, the rest
   * is reported as needing a restart. Returns what changed.
   */
  reload(): string[] {
    if (!this.opts.configFile) return [];
    const changed = reloadConfig(this.opts);
    this.gate?.reconfigure(changed);
    log.info({ changed }, 'config reloaded');
    return changed;
  }

  /** One frame through the gate (the tests and benchmarks feed frames directly). */
  async processFrame(frame: Frame): Promise<GateDecision[]> {
    return this.gate ? this.gate.processFrame(frame) : [];
  }

  /** Report every open track as if it had expired (end of a replay). */
  flushTracks(): void {
    this.gate?.flushTracks();
  }

  /** Resolves once every pulse asked for has an outcome, or after timeoutMs (they stay unconfirmed). */
  async pulsesSettled(timeoutMs = this.opts.config.relay.pulseMs + 3000): Promise<void> {
    await this.gate?.actor.pulsesSettled(timeoutMs);
  }

  /** No more grants or pulses from now on (shutdown began); the frame loop ends at its next frame. */
  halt(): void {
    this.abort.abort();
    this.relay?.refusePulses('the gate is stopping');
  }

  /** Stop in order: relay safe first, then camera and loop, network, models, database last. */
  components(): { name: string; stop(): unknown }[] {
    return [
      {
        name: 'frame loop',
        stop: async () => {
          this.abort.abort();
          this.status.stop();
          await this.gate?.stopLoop();
        },
      },
      { name: 'sync', stop: () => this.gate?.sync.stop() },
      { name: 'api', stop: () => this.stack?.api?.close() },
      { name: 'fleet', stop: () => this.gate?.fleet.stop() },
      { name: 'publisher', stop: () => this.stack?.publisher?.stop() },
      { name: 'relay', stop: () => this.hold?.relay.stop() },
      { name: 'recognition', stop: () => this.stack?.rec.stop() },
      { name: 'fail-safe', stop: () => this.hold?.removeFailSafe() },
      { name: 'relay lock', stop: () => this.hold?.releaseLock() },
    ];
  }

  async stop(): Promise<void> {
    this.halt();
    this.relay?.safe();
    for (const c of this.components()) {
      try {
        await c.stop();
      } catch (err) {
        log.error({ component: c.name, err: errorText(err) }, 'stop failed');
      }
    }
  }
}
