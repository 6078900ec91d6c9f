// Relay on the GPIO character device through libgpiod's command-line tools,
// for kernels where sysfs GPIO is gone or renumbered (Raspberry Pi 5, 6.6+).
// The line is owned by an sh script in its own process group (ownerScript):
// the pulse end is timed by gpioset itself, so neither a stalled event loop
// nor a killed agent can keep the door strike energised.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import { logger } from '../log.js';
import { BaseRelay } from './base.js';
import type { Timers } from './door.js';
import {
  detectGpiodVersion,
  getArgs,
  monitorArgs,
  offScript,
  ownerScript,
  parseEdge,
  type GpiodMajor,
  type LineSpec,
} from './gpiod-cli.js';
import type { RelayOptions } from './types.js';

const log = logger('relay');
/** How long a killed owner group may take to release the line. */
const RELEASE_TIMEOUT_MS = 1000;
/** Between two looks for a killed group's last members (after its leader has exited). */
const RELEASE_POLL_MS = 5;

/**
 * Whether a process group still has a live member. Zombies do not count:
 * the kernel has already released their line by then, and under an init
 * that reaps slowly (containers) they would otherwise look alive for long.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  // Read asynchronously and in parallel: a /proc scan on a busy host reads hundreds of
  // files, and the frame loop, MQTT and the API must not wait on it.
  const names = (await readdir('/proc')).filter((n) => /^\d+$/.test(n));
  const live = await Promise.all(
    names.map(async (name) => {
      try {
        const stat = await readFile(`/proc/${name}/stat`, 'utf8');
        // Fields after the ")" closing the command name: state ppid pgrp ...
        const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(pgrp) === pgid && state !== 'Z' && state !== 'X';
      } catch {
        return false; // The process ended while we looked.
      }
    }),
  );
  if (live.includes(true)) return true;
  return false;
}

/** Resolves when the child has exited (at once if it already has), or after ms. */
function exitedWithin(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export class GpiodRelay extends BaseRelay {
  readonly driver = 'gpiod' as const;
  protected override readonly confirmsPulseEnd = true;
  private version: GpiodMajor = 1;
  private owner: ChildProcess | null = null;
  private monitors: ChildProcess[] = [];
  // Owner changes run one after another: two owners would fight over the line.
  private queue: Promise<void> = Promise.resolve();

  constructor(options: Partial<RelayOptions> = {}, timers?: Timers) {
    super(options, timers);
  }

  private get spec(): LineSpec {
    return { chip: this.opts.chip, line: this.opts.pin, activeLow: this.opts.activeLow };
  }

  protected async openOutput(): Promise<void> {
    this.version = detectGpiodVersion(this.opts.gpiodBinDir);
    await this.replaceOwner(null);
  }

  protected async openInputs(): Promise<void> {
    const watch = (pin: number, activeLow: boolean, feed: (active: boolean) => void): void => {
      const bin = (tool: string): string => join(this.opts.gpiodBinDir, tool);
      const now = spawnSync(bin('gpioget'), getArgs(this.version, this.opts.chip, pin), { encoding: 'utf8', timeout: 5000 });
      if (now.status !== 0) throw new Error(`relay: gpioget ${this.opts.chip} ${pin} failed: ${now.stderr.trim()}`);
      const level = (raw: 0 | 1): boolean => (raw === 1) !== activeLow;
      feed(level(now.stdout.trim() === '1' ? 1 : 0));
      const mon = spawn(bin('gpiomon'), monitorArgs(this.version, this.opts.chip, pin), { stdio: ['ignore', 'pipe', 'pipe'] });
      this.monitors.push(mon);
      // Contacts bounce: only a level that stays for debounceMs counts.
      let timer: NodeJS.Timeout | undefined;
      createInterface({ input: mon.stdout }).on('line', (text) => {
        const raw = parseEdge(this.version, text);
        if (raw === null) return;
        clearTimeout(timer);
        timer = setTimeout(() => feed(level(raw)), this.opts.debounceMs);
      });
      mon.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (this.monitors.includes(mon)) this.fail(new Error(`relay: gpiomon for line ${pin} exited (${code ?? signal})`));
      });
    };
    if (this.opts.doorPin !== null) watch(this.opts.doorPin, this.opts.doorActiveLow, (a) => this.door?.contact(a));
    if (this.opts.exitButtonPin !== null) watch(this.opts.exitButtonPin, this.opts.exitButtonActiveLow, (a) => this.door?.button(a));
  }

  protected energise(_ms: number, until: number): Promise<void> {
    return this.replaceOwner(until);
  }

  protected deEnergise(): void {
    this.killOwner();
    // Synchronous so that exit hooks and signal handlers leave the line
    // inactive before the process goes.
    const r = spawnSync('sh', ['-c', offScript(this.version, this.spec, this.opts.gpiodBinDir)], { timeout: 2000 });
    if (r.status !== 0) throw new Error(`relay: could not drive ${this.opts.chip} ${this.opts.pin} inactive`);
    // Keep the line held inactive while running; not during stop or exit.
    if (this.started) this.replaceOwner(null).catch((err: unknown) => this.fail(err));
  }

  protected async close(): Promise<void> {
    const monitors = this.monitors;
    this.monitors = [];
    for (const m of monitors) m.kill('SIGTERM');
    await this.queue.catch(() => undefined);
    this.killOwner();
  }

  private killOwner(): void {
    const owner = this.owner;
    this.owner = null;
    if (owner?.pid === undefined) return;
    try {
      process.kill(-owner.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  /** Replaces the owner group; `until` null holds inactive, else pulses until then. */
  private replaceOwner(until: number | null): Promise<void> {
    const next = this.queue.then(async () => {
      const old = this.owner;
      this.killOwner();
      if (old?.pid !== undefined) {
        // The leader's exit first (an event, no polling); then the rest of its group,
        // which SIGKILL ends at the same moment, is looked for at a gentle pace.
        const deadline = performance.now() + RELEASE_TIMEOUT_MS;
        await exitedWithin(old, RELEASE_TIMEOUT_MS);
        while ((await groupAlive(old.pid)) && performance.now() < deadline) await sleep(RELEASE_POLL_MS);
      }
      // A safe() or a later pulse while this waited in the queue cancels it,
      // and a pulse whose time ran out while waiting becomes a plain hold.
      if (until !== null && this.activeUntil !== until) return;
      const left = until === null ? 0 : until - this.timers.now();
      const ms = left > 0 ? left : null;
      const child = spawn('sh', ['-c', ownerScript(this.version, this.spec, this.opts.gpiodBinDir, ms)], {
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      this.owner = child;
      let stderr = '';
      let settled = ms === null;
      child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-500)));
      // The owner script says "pulsed" once the timed gpioset has exited 0: the line was driven.
      createInterface({ input: child.stdout! }).on('line', (l) => {
        if (l.trim() === 'pulsed' && !settled && until !== null) {
          settled = true;
          this.pulseEnded(until, null);
        }
      });
      // 'close', not 'exit': its stderr (gpioset's own message) is complete only then.
      child.on('close', (code) => {
        if (code === 0 || this.owner !== child) return;
        const err = `relay: gpioset failed (exit ${code}): ${stderr.trim() || 'no message'}`;
        if (!settled && until !== null) {
          settled = true;
          this.pulseEnded(until, err);
        }
        // Not fail(): safe() would start another owner that fails the same way.
        this.report(new Error(err));
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      log.debug({ pid: child.pid, ms }, 'line owner started');
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}
