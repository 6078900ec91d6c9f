import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SimRelay, createRelay, chooseDriver } from '../../src/relay/index.js';
import { CONTRACT_PULSE_MS, contractChecks } from './contract.js';

void describe('Relay contract: sim', () => {
  for (const [name, check] of Object.entries(contractChecks)) {
    void it(name, async () => {
      const relay = new SimRelay({ pulseMs: CONTRACT_PULSE_MS });
      try {
        await check({ relay, isActive: () => relay.isActive(), pulseMs: CONTRACT_PULSE_MS });
      } finally {
        await relay.stop();
      }
    });
  }
});

void describe('sim relay', () => {
  void it('records each pulse with its time and length', async () => {
    const relay = new SimRelay({ pulseMs: 50 });
    await relay.start();
    const before = Date.now();
    await relay.pulse();
    await relay.pulse(20);
    await relay.stop();
    assert.deepEqual(relay.pulses.map((p) => p.ms), [50, 20]);
    assert.ok(relay.pulses.every((p) => p.at >= before && p.at <= Date.now()));
  });

  void it('rejects a pulse length that is not a positive number', async () => {
    const relay = new SimRelay();
    await relay.start();
    await assert.rejects(relay.pulse(0), RangeError);
    await assert.rejects(relay.pulse(Number.NaN), RangeError);
    assert.equal(relay.pulses.length, 0);
    await relay.stop();
  });

  void it('pulses when the exit button is pressed', async () => {
    const relay = new SimRelay({ exitButtonPin: 27 });
    let pressed = 0;
    relay.on('exit-button', () => pressed++);
    await relay.start();
    relay.pressExitButton();
    assert.equal(pressed, 1);
    await new Promise((r) => setImmediate(r));
    assert.equal(relay.pulses.length, 1);
    assert.equal(relay.isActive(), true);
    await relay.stop();
  });

  void it('auto prefers gpiod (fails secure when the agent dies), then onoff, and sim only when no GPIO interface exists', () => {
    assert.equal(chooseDriver('auto', { sysfs: false, gpiod: false }), 'sim');
    assert.equal(chooseDriver('auto', { sysfs: true, gpiod: true }), 'gpiod');
    assert.equal(chooseDriver('auto', { sysfs: true, gpiod: false }), 'onoff');
    assert.equal(chooseDriver('auto', { sysfs: false, gpiod: true }), 'gpiod');
    assert.equal(chooseDriver('gpiod', { sysfs: true, gpiod: false }), 'gpiod');
  });

  void it('createRelay gives the driver asked for', () => {
    assert.equal(createRelay({ driver: 'sim' }).driver, 'sim');
    assert.equal(createRelay({ driver: 'gpiod' }).driver, 'gpiod');
  });
});
