// The Relay capability: what the gate policy needs from a door strike or
// turnstile output, whatever drives the line. Every implementation keeps the
// same promises (see test/relay/contract.ts): a pulse never outlasts its
// length, safe() de-energises at once, stop() leaves the line inactive.
import type { EventEmitter } from 'node:events';
import type { RelayBoard, RelayDriver, RelayOptions } from '../config/sections/relay.js';
import { relayDefaults } from '../config/sections/relay.js';

// The options are the config's `relay` section (src/config/sections/relay.ts, with the
// meaning of every key); a relay built outside the daemon starts from the same defaults.
export type { RelayBoard, RelayDriver, RelayOptions };
export const defaults: Readonly<RelayOptions> = relayDefaults;

export interface RelayState {
  driver: RelayDriver;
  started: boolean;
  /** Whether the output is energised now. */
  active: boolean;
  /** Epoch ms at which the current pulse ends; null when inactive. */
  activeUntil: number | null;
  /** null when no door contact is wired or its state is not known yet. */
  doorOpen: boolean | null;
}

export interface RelayEvents {
  /** The door stayed open longer than heldOpenMs. */
  'door-held-open': [{ openForMs: number }];
  /** The door opened while the relay was not granting passage. */
  'door-forced': [];
  /** The exit button was pressed; the relay pulses by itself. */
  'exit-button': [];
  /** An input or output failed after start(); the relay is made safe first. */
  error: [Error];
  /**
   * A pulse is over: `ok` when the driver saw the line driven for the whole pulse (gpiod:
   * gpioset exited 0 after it; onoff/sim: energised and not failed before its end), else
   * the driver's reason. Pulses cut short by a newer pulse or by safe() report nothing.
   */
  'pulse-ended': [{ ok: boolean; error: string | null }];
}

export interface Relay extends EventEmitter<RelayEvents> {
  readonly driver: RelayDriver;
  /** Claims the lines and drives the output inactive. */
  start(): Promise<void>;
  /**
   * Energises for `ms` (default pulseMs) from now. A pulse during a pulse
   * restarts the count from the latest request: pulses never stack.
   * Resolves once the output is energised.
   */
  pulse(ms?: number): Promise<void>;
  /** Pulses and waits for the pulse's outcome ('pulse-ended'); rejects with the driver's reason. */
  pulseChecked(ms?: number, slackMs?: number): Promise<void>;
  /** Every later pulse() is refused with `reason` (shutdown began). */
  refusePulses(reason: string): void;
  /** De-energises now, synchronously, and cancels any pulse. Safe to call anytime. */
  safe(): void;
  /** De-energises and releases inputs; the output is left driven inactive. */
  stop(): Promise<void>;
  state(): RelayState;
}
