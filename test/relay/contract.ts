// The Relay contract, as plain async checks so that the same checks run in
// this process (sim, gpiod) and inside a private mount namespace (onoff on a
// fake sysfs tree, see onoff-child.ts). `isActive` reads the real line.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Relay } from '../../src/relay/index.js';

export interface Harness {
  relay: Relay;
  /** The output as the hardware sees it (logical: true = energised). */
  isActive(): boolean;
  pulseMs: number;
}

/** How late an output may go inactive: spawn and scheduling latency. */
export const SLACK_MS = 150;
/** Long enough that pulses stacking (2x) and extending (1.5x) are told apart beyond SLACK_MS. */
export const CONTRACT_PULSE_MS = 400;

/** Polls until `pred` holds; returns ms since `since`. Throws after `timeoutMs`. */
export async function waitFor(pred: () => boolean, since: number, timeoutMs: number, what: string): Promise<number> {
  for (;;) {
    if (pred()) return Date.now() - since;
    if (Date.now() - since > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export const contractChecks: Record<string, (h: Harness) => Promise<void>> = {
  async 'a pulse energises and ends after pulseMs'({ relay, isActive, pulseMs }) {
    await relay.start();
    assert.equal(isActive(), false, 'inactive after start');
    const t0 = Date.now();
    await relay.pulse();
    await waitFor(isActive, t0, SLACK_MS, 'the line to go active');
    assert.equal(relay.state().active, true);
    const offAt = await waitFor(() => !isActive(), t0, pulseMs + SLACK_MS, 'the line to go inactive');
    assert.ok(offAt >= pulseMs - 20, `pulse cut short: off after ${offAt} ms of ${pulseMs}`);
    assert.equal(relay.state().active, false);
  },

  async 'pulse(ms) uses the given length'({ relay, isActive, pulseMs }) {
    await relay.start();
    const t0 = Date.now();
    await relay.pulse(100);
    await waitFor(isActive, t0, SLACK_MS, 'the line to go active');
    const offAt = await waitFor(() => !isActive(), t0, 100 + SLACK_MS, 'the line to go inactive');
    assert.ok(offAt < pulseMs, `pulse(100) lasted ${offAt} ms`);
  },

  async 'safe() de-energises at once and cancels the pulse'({ relay, isActive, pulseMs }) {
    await relay.start();
    const t0 = Date.now();
    await relay.pulse();
    await waitFor(isActive, t0, SLACK_MS, 'the line to go active');
    relay.safe();
    assert.equal(isActive(), false, 'inactive right after safe()');
    assert.equal(relay.state().active, false);
    await sleep(pulseMs);
    assert.equal(isActive(), false, 'still inactive after the pulse time');
  },

  async 'stop() mid-pulse leaves the line inactive'({ relay, isActive, pulseMs }) {
    await relay.start();
    const t0 = Date.now();
    await relay.pulse();
    await waitFor(isActive, t0, SLACK_MS, 'the line to go active');
    await relay.stop();
    assert.equal(isActive(), false, 'inactive after stop()');
    await sleep(pulseMs);
    assert.equal(isActive(), false, 'still inactive after the pulse time');
    await assert.rejects(relay.pulse(), /before start/);
  },

  async 'overlapping pulses extend from the last request, never stack'({ relay, isActive, pulseMs }) {
    await relay.start();
    const t0 = Date.now();
    await relay.pulse();
    await sleep(pulseMs / 2);
    const t1 = Date.now();
    await relay.pulse();
    await sleep(t0 + pulseMs + 50 - Date.now());
    assert.equal(isActive(), true, 'the second request extended the pulse');
    const offAt = await waitFor(() => !isActive(), t1, pulseMs + SLACK_MS, 'the line to go inactive');
    assert.ok(offAt >= pulseMs - 20, `extended pulse cut short: off ${offAt} ms after the second request`);
  },
};
