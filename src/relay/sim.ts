// The relay for machines without GPIO (development, CI, demo kiosks): keeps
// the pulses in memory with timestamps, and lets tests play the door inputs.
import type { Timers } from './door.js';
import { BaseRelay } from './base.js';
import type { RelayOptions } from './types.js';

export interface SimPulse {
  /** Epoch ms of the request. */
  at: number;
  ms: number;
}

export class SimRelay extends BaseRelay {
  readonly driver = 'sim' as const;
  readonly pulses: SimPulse[] = [];
  private line = { until: 0 };

  constructor(options: Partial<RelayOptions> = {}, timers?: Timers) {
    super(options, timers);
  }

  /** The simulated output level: it times itself, as a kernel-held line does. */
  isActive(): boolean {
    return this.line.until > this.timers.now();
  }

  setDoorOpen(open: boolean): void {
    this.door?.contact(open);
  }

  pressExitButton(): void {
    this.door?.button(true);
    this.door?.button(false);
  }

  protected async openOutput(): Promise<void> {
    this.line.until = 0;
  }

  protected async openInputs(): Promise<void> {
    // The door is closed until a test says otherwise.
    if (this.opts.doorPin !== null) this.door?.contact(false);
  }

  protected async energise(ms: number, until: number): Promise<void> {
    this.pulses.push({ at: until - ms, ms });
    this.line.until = until;
  }

  protected deEnergise(): void {
    this.line.until = 0;
  }

  protected async close(): Promise<void> {}
}
