// The Relay capability: what the gate policy needs from a door strike or
// turnstile output, whatever drives the line. Every implementation keeps the
// same promises (see test/relay/contract.ts): a pulse never outlasts its
// length, safe() de-energises at once, stop() leaves the line inactive.
import type { EventEmitter } from 'node:events';

export type RelayDriver = 'onoff' | 'gpiod' | 'sim';

/** Which header the line numbers belong to; bounds them (relay/limits.ts). */
export type RelayBoard = 'raspberry-pi' | 'jetson' | 'generic';

export interface RelayOptions {
  /**
   * 'auto' picks gpiod where a GPIO chip and gpioset exist (its pulse ends even if the agent
   * is killed), else onoff where sysfs GPIO exists, else sim.
   */
  driver: RelayDriver | 'auto';
  /** The board whose GPIO lines `pin`, `doorPin` and `exitButtonPin` name (config check only). */
  board: RelayBoard;
  /** gpiod only: the GPIO chip (name, path or number). */
  chip: string;
  /** Output line: the offset on `chip` (BCM number on a Pi). */
  pin: number;
  /**
   * onoff only: added to every pin to get the sysfs number. 0 on a Pi 4 with
   * older kernels; on a Pi 5 / kernel >= 6.6 the sysfs numbers start at the
   * chip's base (e.g. 571), see docs/relay.md.
   */
  sysfsBase: number;
  /** Default pulse length when pulse() gets none. */
  pulseMs: number;
  /** True when the relay board energises on a low level (most opto boards). */
  activeLow: boolean;
  /** Door contact input (offset like `pin`); null when not wired. Active = door open. */
  doorPin: number | null;
  doorActiveLow: boolean;
  /** Exit (request-to-exit) button input; null when not wired. Active = pressed. */
  exitButtonPin: number | null;
  exitButtonActiveLow: boolean;
  /** Door open longer than this raises 'door-held-open'. */
  heldOpenMs: number;
  /** Input edges closer than this are one edge (contact bounce). */
  debounceMs: number;
  /** gpiod only: where gpioset/gpioget/gpiomon live. */
  gpiodBinDir: string;
}

export const defaults: RelayOptions = {
  driver: 'auto',
  board: 'raspberry-pi',
  chip: 'gpiochip0',
  pin: 17,
  sysfsBase: 0,
  pulseMs: 3000,
  activeLow: false,
  doorPin: null,
  doorActiveLow: false,
  exitButtonPin: null,
  exitButtonActiveLow: true,
  heldOpenMs: 30_000,
  debounceMs: 50,
  gpiodBinDir: '/usr/bin',
};

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
