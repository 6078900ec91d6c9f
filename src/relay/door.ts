// Door supervision without I/O: drivers feed it input levels, it decides what
// they mean. Kept pure so the rules (held open, forced, exit button) are
// tested with injected time instead of real contacts.
import { wallClock, type Clock } from '../clock.js';

/** Door events are reported with wall-clock times. */
export type Timers = Clock;
export const realTimers: Timers = wallClock;

export interface DoorHooks {
  /** Whether the relay is granting passage right now. */
  granting(): boolean;
  heldOpen(openForMs: number): void;
  forced(): void;
  exitButton(): void;
}

export class DoorMonitor {
  private open: boolean | null = null;
  private openedAt = 0;
  private heldTimer: unknown = null;
  private buttonDown = false;

  constructor(
    private readonly heldOpenMs: number,
    private readonly hooks: DoorHooks,
    private readonly timers: Timers = realTimers,
  ) {}

  get doorOpen(): boolean | null {
    return this.open;
  }

  /** Feeds the current contact level; repeated equal levels are ignored. */
  contact(open: boolean): void {
    const first = this.open === null;
    if (open === this.open) return;
    this.open = open;
    if (!open) {
      this.clearHeld();
      return;
    }
    this.openedAt = this.timers.now();
    // A door already open when the agent starts was not forced now; it is
    // only supervised for being held open.
    if (!first && !this.hooks.granting()) this.hooks.forced();
    this.heldTimer = this.timers.setTimeout(() => {
      this.heldTimer = null;
      this.hooks.heldOpen(this.timers.now() - this.openedAt);
    }, this.heldOpenMs);
  }

  /** Feeds the exit button level; a press is the inactive -> active edge. */
  button(pressed: boolean): void {
    if (pressed && !this.buttonDown) this.hooks.exitButton();
    this.buttonDown = pressed;
  }

  stop(): void {
    this.clearHeld();
  }

  private clearHeld(): void {
    if (this.heldTimer !== null) this.timers.clearTimeout(this.heldTimer);
    this.heldTimer = null;
  }
}
