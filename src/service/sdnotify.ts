// systemd notify protocol (READY=1, WATCHDOG=1, STOPPING=1, STATUS=...).
//
// NOTIFY_SOCKET is a unix datagram socket and Node has no unix dgram support
// (zigbee2mqtt uses the native `unix-dgram` module for it). Rather than a
// native dependency, this runs the `systemd-notify` binary, which is on every
// systemd system, Raspberry Pi OS and Debian included. Two consequences, both
// handled in systemd/gate-agent.service:
//  - the datagram comes from the systemd-notify process, not the main PID, so
//    the unit needs NotifyAccess=all;
//  - systemd attributes a message by the sender's cgroup, which is gone if
//    the sender exits first; since systemd 246, systemd-notify waits for the
//    manager to process the message (a BARRIER=1 round-trip) unless given
//    --no-block, which is why --no-block is never passed here.
// With NOTIFY_SOCKET unset (not under systemd, tests, containers) nothing at
// all is done.
import { spawn } from 'node:child_process';
import { logger } from '../log.js';

const log = logger('service');

export interface SdNotifyOptions {
  /** Environment to read NOTIFY_SOCKET / WATCHDOG_USEC / WATCHDOG_PID from. */
  env?: NodeJS.ProcessEnv;
  /** The systemd-notify binary. */
  command?: string;
  /**
   * Asked before each watchdog ping: a stalled pipeline should get the agent
   * restarted, so an unhealthy agent stops pinging rather than lying.
   */
  healthy?: () => boolean;
}

export class SdNotify {
  private readonly env: NodeJS.ProcessEnv;
  private readonly command: string;
  private readonly healthy: () => boolean;
  private timer: NodeJS.Timeout | undefined;
  // Messages go out in order (READY before the first WATCHDOG).
  private chain: Promise<void> = Promise.resolve();
  private broken = false;

  constructor(opts: SdNotifyOptions = {}) {
    this.env = opts.env ?? process.env;
    this.command = opts.command ?? 'systemd-notify';
    this.healthy = opts.healthy ?? (() => true);
  }

  get enabled(): boolean {
    return !!this.env.NOTIFY_SOCKET && !this.broken;
  }

  /** Half of WATCHDOG_USEC in ms, as sd_watchdog_enabled(3) advises; null when off. */
  watchdogIntervalMs(): number | null {
    const usec = Number(this.env.WATCHDOG_USEC);
    if (!this.enabled || !Number.isFinite(usec) || usec <= 0) return null;
    const pid = this.env.WATCHDOG_PID;
    if (pid && Number(pid) !== process.pid) return null;
    return Math.max(1, Math.floor(usec / 2000));
  }

  /** READY=1 and, when the unit has WatchdogSec, the watchdog pings. */
  async ready(status?: string): Promise<void> {
    await this.send(['READY=1', ...(status ? [`STATUS=${status}`] : [])]);
    const every = this.watchdogIntervalMs();
    if (every !== null && this.timer === undefined) {
      this.timer = setInterval(() => {
        if (this.healthy()) this.send(['WATCHDOG=1']).catch(() => undefined);
        else log.warn('unhealthy: withholding the systemd watchdog ping');
      }, every);
      // The watchdog must never be what keeps the agent running.
      this.timer.unref();
    }
  }

  status(text: string): Promise<void> {
    return this.send([`STATUS=${text}`]);
  }

  /** STOPPING=1 and no more watchdog pings. */
  async stopping(): Promise<void> {
    this.stop();
    await this.send(['STOPPING=1']);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Sends raw assignments; resolves when systemd has them (or on failure, logged). */
  send(assignments: string[]): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    const next = this.chain.then(() => this.run(assignments));
    this.chain = next;
    return next;
  }

  private run(assignments: string[]): Promise<void> {
    if (this.broken) return Promise.resolve();
    return new Promise((resolve) => {
      const child = spawn(this.command, assignments, { env: this.env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', (err) => {
        // Missing binary: say so once, then stay quiet rather than spawn-fail every ping.
        this.broken = true;
        this.stop();
        log.error({ err, command: this.command }, 'cannot run systemd-notify: no notifications will be sent');
        resolve();
      });
      child.on('close', (code) => {
        if (code !== 0) log.warn({ code, stderr: stderr.trim(), assignments }, 'systemd-notify failed');
        resolve();
      });
    });
  }
}
