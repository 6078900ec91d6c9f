// The running daemon's account of itself for `gate-agent status`: a snapshot written
// atomically (temp file + rename) to <dataDir>/status.json every daemon.statusIntervalMs
// and on every health change. It holds user ids, never names, KYC data or embeddings.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isoWithOffset } from '../clock.js';
import type { GateDecision } from '../gate/types.js';
import type { HealthPart, HealthReport } from './health.js';
import type { GateDetail } from '../publish/topics.js';
import { errorText } from '../errors.js';

export const STATUS_FILE = 'status.json';
/** Decisions kept in the snapshot. */
const RECENT_DECISIONS = 10;
/** A snapshot older than this many write intervals is stale: its writer stopped updating. */
export const STALE_INTERVALS = 5;

export interface StatusSnapshot {
  pid: number;
  /** The config file the daemon runs with (absent in snapshots of older versions). */
  configFile?: string | null;
  at: string;
  atMs: number;
  intervalMs: number;
  gateId: string;
  siteId: string;
  /** threshold: the effective similarity threshold for the event's attendee count (docs/matching.md). */
  event: { id: string; attendees: number | null; threshold: number | null } | null;
  camera: { description: string; state: string; fps: number; framesReceived: number; lastError: string | null } | null;
  relay: { driver: string; active: boolean; lastPulse: { at: string; ok: boolean; error: string | null } | null; lastFault: { at: string; error: string } | null } | null;
  broker: { url: string; state: string; connected: boolean; lastError: string | null; lastErrorAt: string | null } | null;
  outboxDepth: number | null;
  lastSync: { successAt: string | null; attemptAt: string | null; error: string | null } | null;
  health: { ok: boolean; summary: string; parts: Partial<Record<HealthPart, { ok: boolean; detail: string; since: string }>>; faults: { part: HealthPart; detail: string; since: string }[] };
  decisions: { at: string; kind: 'grant' | 'deny'; reason: string; userId: string | null; similarity: number | null; detail: string | null }[];
  /** Site-wide entries (fleet.enabled): whether the gate hears its peers and the rule it applies when not; null when off. */
  fleet: GateDetail['fleet'];
}

/** What the daemon hands over at each snapshot: plain values read from its parts. */
export interface StatusInputs {
  gateId: string;
  siteId: string;
  /** threshold: the effective similarity threshold for the event's attendee count (docs/matching.md). */
  event: { id: string; attendees: number | null; threshold: number | null } | null;
  camera: { description: string; state: string; framesReceived: number; lastError: string | null } | null;
  relay: { driver: string; active: boolean } | null;
  broker: { url: string; state: string; lastError: string | null; lastErrorAt: string | null } | null;
  outboxDepth: number | null;
  lastSync: { lastSuccessAt: number | null; lastAttemptAt: number | null; lastError: string | null } | null;
  health: HealthReport;
  /** Frames the daemon has taken from the camera so far. */
  frames: number;
  fleet: GateDetail['fleet'];
}

export interface GateStatusOptions {
  dataDir: string;
  intervalMs: number;
  fpsWindowMs: number;
  now: () => number;
  mono: () => number;
  collect: () => Promise<StatusInputs>;
  /** Each snapshot written (the daemon republishes what changed in it on the retained MQTT status). */
  onSnapshot?: (s: StatusSnapshot) => void;
  /** The config file the daemon re-reads on reload; null for the built-in defaults. */
  configFile?: string | null;
  onError: (err: Error) => void;
}

const iso = (ms: number | null): string | null => (ms === null ? null : isoWithOffset(ms));

/** Remembers what the snapshot needs beyond the parts' own state, and writes the file. */
export class GateStatus {
  private readonly decisions: StatusSnapshot['decisions'] = [];
  private lastPulse: { atMs: number; ok: boolean; error: string | null } | null = null;
  private lastFault: { atMs: number; error: string } | null = null;
  /** (monotonic ms, frames so far), for the frame rate over fpsWindowMs. */
  private frameSamples: [number, number][] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing = false;
  private again = false;
  readonly file: string;

  constructor(private readonly opts: GateStatusOptions) {
    this.file = join(opts.dataDir, STATUS_FILE);
  }

  start(): void {
    this.timer = setInterval(() => this.update(), this.opts.intervalMs);
    this.update();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  decision(d: GateDecision): void {
    this.decisions.unshift({ at: isoWithOffset(d.decidedAtMs), kind: d.kind, reason: d.reason, userId: d.userId, similarity: d.similarity, detail: d.detail });
    this.decisions.length = Math.min(this.decisions.length, RECENT_DECISIONS);
  }

  pulseEnded(ok: boolean, error: string | null): void {
    this.lastPulse = { atMs: this.opts.now(), ok, error };
    if (!ok) this.relayFault(error ?? 'pulse failed');
  }

  relayFault(error: string): void {
    this.lastFault = { atMs: this.opts.now(), error };
  }

  /** Write a snapshot now (a health change); one write at a time, a request during one writes again after it. */
  update(): void {
    if (this.writing) {
      this.again = true;
      return;
    }
    this.writing = true;
    this.write()
      .catch((err: Error) => this.opts.onError(err))
      .finally(() => {
        this.writing = false;
        if (this.again) {
          this.again = false;
          this.update();
        }
      });
  }

  private async write(): Promise<void> {
    const snap = this.snapshot(await this.opts.collect());
    this.opts.onSnapshot?.(snap);
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(snap, null, 1) + '\n');
    renameSync(tmp, this.file);
  }

  private fps(frames: number): number {
    const mono = this.opts.mono();
    this.frameSamples.push([mono, frames]);
    while (this.frameSamples.length > 2 && this.frameSamples[1]![0] <= mono - this.opts.fpsWindowMs) this.frameSamples.shift();
    const [t0, f0] = this.frameSamples[0]!;
    return mono - t0 < 1 ? 0 : Math.round(((frames - f0) / ((mono - t0) / 1000)) * 10) / 10;
  }

  snapshot(i: StatusInputs): StatusSnapshot {
    const atMs = this.opts.now();
    const fps = this.fps(i.frames);
    return {
      pid: process.pid,
      configFile: this.opts.configFile ?? null,
      at: isoWithOffset(atMs),
      atMs,
      intervalMs: this.opts.intervalMs,
      gateId: i.gateId,
      siteId: i.siteId,
      event: i.event,
      camera: i.camera && { ...i.camera, fps },
      relay: i.relay && {
        ...i.relay,
        lastPulse: this.lastPulse && { at: isoWithOffset(this.lastPulse.atMs), ok: this.lastPulse.ok, error: this.lastPulse.error },
        lastFault: this.lastFault && { at: isoWithOffset(this.lastFault.atMs), error: this.lastFault.error },
      },
      broker: i.broker && { ...i.broker, connected: i.broker.state === 'online' },
      outboxDepth: i.outboxDepth,
      lastSync: i.lastSync && { successAt: iso(i.lastSync.lastSuccessAt), attemptAt: iso(i.lastSync.lastAttemptAt), error: i.lastSync.lastError },
      health: {
        ok: i.health.ok,
        summary: i.health.summary,
        parts: Object.fromEntries(Object.entries(i.health.parts).map(([p, h]) => [p, { ok: h.ok, detail: h.detail, since: isoWithOffset(h.sinceMs) }])),
        faults: i.health.faults.map((f) => ({ part: f.part, detail: f.detail, since: isoWithOffset(f.sinceMs) })),
      },
      decisions: [...this.decisions],
      fleet: i.fleet,
    };
  }
}

/** What the retained MQTT status carries of a snapshot (docs/mqtt.md, docs/fleet.md): no user ids. */
export function gateDetailOf(s: StatusSnapshot): GateDetail {
  const d = s.decisions[0];
  return {
    camera: s.camera && { description: s.camera.description, state: s.camera.state },
    relay: s.relay && { driver: s.relay.driver, active: s.relay.active },
    outboxDepth: s.outboxDepth,
    lastDecision: d ? { at: new Date(Date.parse(d.at)).toISOString(), kind: d.kind, reason: d.reason } : null,
    fleet: s.fleet,
  };
}

export type StatusReading = { ok: true; snapshot: StatusSnapshot; ageMs: number } | { ok: false; problem: string; snapshot: StatusSnapshot | null };

/** True while process `pid` exists (EPERM: it exists but belongs to another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The daemon's snapshot if a live daemon wrote it recently; otherwise why not, in words. */
export function readStatus(dataDir: string, nowMs: number, alive: (pid: number) => boolean = pidAlive): StatusReading {
  const file = join(dataDir, STATUS_FILE);
  let snapshot: StatusSnapshot;
  try {
    snapshot = JSON.parse(readFileSync(file, 'utf8')) as StatusSnapshot;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, snapshot: null, problem: code === 'ENOENT' ? `the daemon is not running: no ${file} (start it with \`gate-agent run\` or \`systemctl start gate-agent\`)` : `cannot read ${file}: ${errorText(err)}` };
  }
  const ageMs = nowMs - snapshot.atMs;
  if (!alive(snapshot.pid)) return { ok: false, snapshot, problem: `the daemon is not running: process ${snapshot.pid}, which wrote ${file} at ${snapshot.at}, is gone` };
  const staleMs = STALE_INTERVALS * snapshot.intervalMs;
  if (ageMs < -staleMs) return { ok: false, snapshot, problem: `the status snapshot (pid ${snapshot.pid}) is dated ${Math.round(-ageMs / 1000)} s in the future (${snapshot.at}): the clock went back?; not shown as current` };
  if (ageMs > staleMs) return { ok: false, snapshot, problem: `the daemon (pid ${snapshot.pid}) is not updating its status: the last snapshot is ${Math.round(ageMs / 1000)} s old (written at ${snapshot.at}); it may be stuck, see its log` };
  return { ok: true, snapshot, ageMs };
}
