// Runs one onoff scenario inside a private mount namespace where
// /sys/class/gpio is a tmpfs played by fake-sysfs.ts (started by
// onoff.test.ts through unshare). Exits 0 when every assertion held.
//   node onoff-child.js <scenario>         scenario runner, runs the fake kernel
//   node onoff-child.js hold <mode>        relay process for the signal scenarios
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { OnoffRelay, installRelayFailSafe } from '../../src/relay/index.js';
import { CONTRACT_PULSE_MS, SLACK_MS, contractChecks, waitFor } from './contract.js';
import { attr, startFakeKernel } from './fake-sysfs.js';
import { own } from '../proc.js';

const PIN = 17;
const value = (): string => attr(PIN, 'value');

/** The relay process for the signal/exit scenarios: pulses long, then dies as told. */
async function hold(mode: string): Promise<void> {
  const relay = new OnoffRelay({ pin: PIN, pulseMs: 10_000 });
  installRelayFailSafe(relay);
  await relay.start();
  await relay.pulse();
  process.stdout.write('pulsing\n');
  if (mode === 'throw') setTimeout(() => { throw new Error('boom'); }, 50);
  if (mode === 'exit') setTimeout(() => process.exit(0), 50);
  setInterval(() => undefined, 1000);
}

async function runHeld(mode: 'sigterm' | 'throw' | 'exit', expectCode: number): Promise<void> {
  const child = own(spawn(process.execPath, [fileURLToPath(import.meta.url), 'hold', mode], { stdio: ['ignore', 'pipe', 'inherit'] }));
  try {
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => out.includes('pulsing'), Date.now(), 5000, 'the relay process to pulse');
    assert.equal(value(), '1', 'energised mid-pulse');
    if (mode === 'sigterm') child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, expectCode);
    assert.equal(value(), '0', `inactive after the relay process ended (${mode})`);
  } finally {
    child.kill('SIGKILL');
  }
}

const scenarios: Record<string, () => Promise<void>> = {
  async 'active-low'() {
    const relay = new OnoffRelay({ pin: PIN, pulseMs: 200, activeLow: true });
    // physical level = value xor active_low, as the kernel drives the pin
    const physical = (): number => Number(value()) ^ Number(attr(PIN, 'active_low'));
    try {
      await relay.start();
      assert.equal(attr(PIN, 'active_low'), '1');
      // 'high' sets raw high with the direction: no energising glitch.
      assert.equal(attr(PIN, 'direction'), 'high');
      assert.equal(physical(), 1, 'idle = raw high on an active-low board');
      const t0 = Date.now();
      await relay.pulse();
      assert.equal(physical(), 0, 'energised = raw low');
      await waitFor(() => physical() === 1, t0, 200 + SLACK_MS, 'raw high again');
    } finally {
      await relay.stop();
    }
  },
  async stall() {
    const pulseMs = 200;
    const relay = new OnoffRelay({ pin: PIN, pulseMs });
    try {
      await relay.start();
      const t0 = Date.now();
      await relay.pulse();
      assert.equal(value(), '1');
      // Busy main thread for 3x the pulse: no timer of this thread can run.
      let offAt = -1;
      while (Date.now() - t0 < 3 * pulseMs) {
        if (offAt < 0 && value() === '0') offAt = Date.now() - t0;
      }
      assert.ok(offAt >= 0, 'the pulse never ended while the event loop was stalled');
      assert.ok(offAt <= pulseMs + SLACK_MS, `pulse ended after ${offAt} ms`);
    } finally {
      await relay.stop();
    }
  },
  sigterm: () => runHeld('sigterm', 143),
  'uncaught-exception': () => runHeld('throw', 70),
  'process-exit': () => runHeld('exit', 0),
};

async function main(): Promise<void> {
  const [what, arg] = process.argv.slice(2);
  if (what === 'hold') return hold(arg ?? '');
  const kernel = startFakeKernel();
  try {
    const contract = what?.startsWith('contract:') ? contractChecks[what.slice('contract:'.length)] : undefined;
    if (contract) {
      const relay = new OnoffRelay({ pin: PIN, pulseMs: CONTRACT_PULSE_MS });
      try {
        await contract({ relay, isActive: () => value() === '1', pulseMs: CONTRACT_PULSE_MS });
      } finally {
        await relay.stop();
      }
    } else {
      const scenario = scenarios[what ?? ''];
      if (!scenario) throw new Error(`unknown scenario ${what}`);
      await scenario();
    }
  } finally {
    kernel.close();
  }
  await sleep(0);
}

export const scenarioNames = Object.keys(scenarios);

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
