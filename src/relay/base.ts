// What every driver shares: option merging, pulse bookkeeping, the door
// monitor and the synchronous exit hook. Drivers only implement the line I/O.
import { EventEmitter } from 'node:events';
import { logger } from '../log.js';
import { DoorMonitor, realTimers, type Timers } from './door.js';
import { defaults, type Relay, type RelayDriver, type RelayEvents, type RelayOptions, type RelayState } from './types.js';
import { errorText } from '../errors.js';

const log = logger('relay');

export abstract class BaseRelay extends EventEmitter<RelayEvents> implements Relay {
  abstract readonly driver: RelayDriver;
  protected readonly opts: RelayOptions;
  protected door: DoorMonitor | null = null;
  protected started = false;
  protected activeUntil: number | null = null;
  // Bound once so stop() can remove exactly this listener.
  private readonly exitHook = (): void => this.safe();

  constructor(options: Partial<RelayOptions> = {}, protected readonly timers: Timers = realTimers) {
    super();
    this.opts = { ...defaults, ...options };
  }

  /** Claims the output and drives it inactive. */
  protected abstract openOutput(): Promise<void>;
  /** Starts reading whichever of doorPin / exitButtonPin are set. */
  protected abstract openInputs(): Promise<void>;
  /** Energises until `until` (epoch ms); the driver ends it without the main thread. */
  protected abstract energise(ms: number, until: number): Promise<void>;
  /** Drives the output inactive now; must be synchronous (exit hooks). */
  protected abstract deEnergise(): void;
  protected abstract close(): Promise<void>;

  async start(): Promise<void> {
    if (this.started) return;
    // Hooked before the line is claimed so no exit path can leave it active.
    process.on('exit', this.exitHook);
    try {
      await this.openOutput();
      if (this.opts.doorPin !== null || this.opts.exitButtonPin !== null) {
        this.door = new DoorMonitor(
          this.opts.heldOpenMs,
          {
            granting: () => this.isGranting(),
            heldOpen: (openForMs) => this.emit('door-held-open', { openForMs }),
            forced: () => this.emit('door-forced'),
            exitButton: () => {
              this.emit('exit-button');
              this.pulse().catch((err: unknown) => this.fail(err));
            },
          },
          this.timers,
        );
        await this.openInputs();
      }
    } catch (err) {
      this.safe();
      await this.close().catch(() => undefined);
      process.off('exit', this.exitHook);
      throw err;
    }
    this.started = true;
    log.info({ driver: this.driver, pin: this.opts.pin, activeLow: this.opts.activeLow }, 'relay started');
  }

  private refusal: string | null = null;

  /** From now on every pulse() is refused (shutdown began): nothing energises the line again. */
  refusePulses(reason: string): void {
    this.refusal = reason;
  }

  async pulse(ms: number = this.opts.pulseMs): Promise<void> {
    if (this.refusal !== null) throw new Error(`relay: pulse refused: ${this.refusal}`);
    if (!this.started) throw new Error('relay: pulse() before start()');
    if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`relay: pulse length must be a positive number of ms, got ${ms}`);
    const until = this.timers.now() + ms;
    this.activeUntil = until;
    log.debug({ ms }, 'pulse');
    await this.energise(ms, until);
    if (this.confirmsPulseEnd) return;
    // Drivers that write the line themselves: the pulse is good once energised, unless the
    // relay failed or was made safe before its end.
    this.timers.setTimeout(() => {
      if (this.activeUntil === until) this.pulseEnded(until, null);
    }, ms);
  }

  /**
   * Pulse and wait for its outcome (the technician's `relay test`): rejects with the
   * driver's reason when the line was not driven, or when no outcome came in time.
   */
  async pulseChecked(ms: number = this.opts.pulseMs, slackMs = 3000): Promise<void> {
    const outcome = new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => done(`no confirmation from the ${this.driver} driver within ${ms + slackMs} ms`), ms + slackMs);
      const onEnd = (e: { error: string | null }): void => done(e.error);
      const onError = (e: Error): void => done(e.message);
      const done = (err: string | null): void => {
        clearTimeout(timer);
        this.off('pulse-ended', onEnd);
        this.off('error', onError);
        resolve(err);
      };
      this.on('pulse-ended', onEnd);
      this.on('error', onError);
    });
    await this.pulse(ms);
    const err = await outcome;
    if (err !== null) throw new Error(err);
  }

  /** gpiod confirms each pulse's end itself (from gpioset's exit); the others do not. */
  protected readonly confirmsPulseEnd: boolean = false;

  /** Reports the outcome of the pulse that was to end at `until` (error null: it worked). */
  protected pulseEnded(until: number, error: string | null): void {
    if (error === null && this.activeUntil !== until && this.activeUntil !== null) return; // superseded by a newer pulse
    this.emit('pulse-ended', { ok: error === null, error });
  }

  safe(): void {
    this.activeUntil = null;
    try {
      this.deEnergise();
    } catch (err) {
      // Nothing better to do from here: the error is logged, callers go on
      // stopping; the driver's own off-switch still runs.
      log.error({ err: errorText(err) }, 'could not drive the relay inactive');
    }
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.safe();
    this.door?.stop();
    this.door = null;
    try {
      await this.close();
    } finally {
      process.off('exit', this.exitHook);
      log.info('relay stopped');
    }
  }

  state(): RelayState {
    return {
      driver: this.driver,
      started: this.started,
      active: this.isGranting(),
      activeUntil: this.isGranting() ? this.activeUntil : null,
      doorOpen: this.door?.doorOpen ?? null,
    };
  }

  protected isGranting(): boolean {
    return this.activeUntil !== null && this.activeUntil > this.timers.now();
  }

  /** A driver fault after start: de-energise first, then report. */
  protected fail(err: unknown): void {
    this.safe();
    this.report(err);
  }

  protected report(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    // One line, no stack: a technician reads this in the journal.
    log.error({ err: e.message }, 'relay fault');
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }
}
