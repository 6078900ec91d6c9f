// gpiod driver. This machine has no /dev/gpiochip* and cannot load gpio-sim
// (no modprobe, no module tree in the container), so: the command lines are
// tested as pure functions, the real gpioset binary is run for version and
// syntax detection, and the driver's process handling (owner groups, the
// pulse timed outside node, kill of the agent mid-pulse) runs for real
// against a shell stand-in for gpioset v1 (fixtures/gpioset-v1-stub). The
// test against a real chip runs only where one exists.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GpiodRelay } from '../../src/relay/index.js';
import { detectGpiodVersion, holdArgs, monitorArgs, offScript, ownerScript, parseEdge, parseGpiodVersion, setOnceArgs, timedArgs } from '../../src/relay/gpiod-cli.js';
import { ROOT } from '../paths.js';
import { CONTRACT_PULSE_MS, SLACK_MS, contractChecks, waitFor } from './contract.js';
import { own } from '../proc.js';

const spec = { chip: 'gpiochip0', line: 17, activeLow: false };

void describe('gpiod command lines', () => {
  void it('detects the libgpiod major version from --version output', () => {
    assert.equal(parseGpiodVersion('gpioset (libgpiod) v1.6.3\nCopyright'), 1);
    assert.equal(parseGpiodVersion('gpioset (libgpiod) v2.1.3'), 2);
    assert.equal(parseGpiodVersion('gpioset 0.9'), null);
  });

  void it('runs the installed gpioset and understands its version', () => {
    const v = detectGpiodVersion('/usr/bin');
    const help = spawnSync('/usr/bin/gpioset', ['--help'], { encoding: 'utf8' }).stdout;
    // The flags built for that version are the ones its help lists.
    if (v === 1) for (const f of ['--mode=', '--sec=', '--usec=', '--active-low']) assert.ok(help.includes(f), f);
    else for (const f of ['--toggle', '--chip', '--active-low']) assert.ok(help.includes(f), f);
  });

  void it('v1: splits the pulse into --sec and --usec below one second', () => {
    assert.deepEqual(timedArgs(1, spec, 2500), ['--mode=time', '--sec=2', '--usec=500000', 'gpiochip0', '17=1']);
    assert.deepEqual(timedArgs(1, { ...spec, activeLow: true }, 999), ['--mode=time', '--sec=0', '--usec=999000', '-l', 'gpiochip0', '17=1']);
    assert.deepEqual(holdArgs(1, spec, 0), ['--mode=signal', 'gpiochip0', '17=0']);
    assert.deepEqual(setOnceArgs(1, spec, 0), ['gpiochip0', '17=0']);
  });

  void it('v2: toggles back to inactive inside gpioset and exits', () => {
    assert.deepEqual(timedArgs(2, spec, 2500), ['-c', 'gpiochip0', '-t', '2500ms,0', '17=1']);
    assert.deepEqual(holdArgs(2, { ...spec, activeLow: true }, 0), ['-c', 'gpiochip0', '-l', '17=0']);
    assert.deepEqual(setOnceArgs(2, spec, 0), ['-c', 'gpiochip0', '-t0', '17=0']);
  });

  void it('the owner script is valid sh and quotes its arguments', () => {
    const script = ownerScript(1, { ...spec, chip: "odd'chip" }, '/usr/bin', 100);
    assert.ok(script.includes(`'odd'\\''chip'`));
    for (const s of [script, ownerScript(2, spec, '/usr/bin', null), offScript(1, spec, '/usr/bin')]) {
      const r = spawnSync('sh', ['-n', '-c', s]);
      assert.equal(r.status, 0, r.stderr.toString());
    }
  });

  void it('parses gpiomon edges of both versions', () => {
    assert.deepEqual(['1', '0', 'x'].map((e) => parseEdge(1, e)), [1, 0, null]);
    assert.deepEqual(['1', '2', '0'].map((e) => parseEdge(2, e)), [1, 0, null]);
    assert.deepEqual(monitorArgs(2, 'gpiochip0', 22), ['-c', 'gpiochip0', '-F', '%e', '22']);
  });
});

void describe('Relay contract: gpiod (driver processes real, gpioset v1 stand-in)', () => {
  let bin = '';
  let state = '';
  before(() => {
    bin = mkdtempSync(join(tmpdir(), 'gpiod-bin-'));
    symlinkSync(join(ROOT, 'test', 'relay', 'fixtures', 'gpioset-v1-stub'), join(bin, 'gpioset'));
  });
  after(() => rmSync(bin, { recursive: true, force: true }));

  const lineActive = (): boolean => {
    const f = join(state, 'gpiochip0-17');
    return existsSync(f) && readFileSync(f, 'utf8').startsWith('1');
  };

  for (const [name, check] of Object.entries(contractChecks)) {
    void it(name, async () => {
      state = mkdtempSync(join(tmpdir(), 'gpiod-state-'));
      process.env.GPIOD_STUB_DIR = state;
      const relay = new GpiodRelay({ pin: 17, pulseMs: CONTRACT_PULSE_MS, gpiodBinDir: bin });
      try {
        await check({ relay, isActive: lineActive, pulseMs: CONTRACT_PULSE_MS });
      } finally {
        await relay.stop();
        rmSync(state, { recursive: true, force: true });
      }
    });
  }

  void it('a pulse still ends on time when the agent is SIGKILLed mid-pulse', async () => {
    state = mkdtempSync(join(tmpdir(), 'gpiod-state-'));
    const code = `import { GpiodRelay } from ${JSON.stringify(join(ROOT, 'dist', 'src', 'relay', 'index.js'))};
      const r = new GpiodRelay({ pin: 17, pulseMs: 300, gpiodBinDir: ${JSON.stringify(bin)} });
      await r.start(); await r.pulse(); console.log('pulsing'); setInterval(() => {}, 1000);`;
    const child = own(spawn(process.execPath, ['--input-type=module', '-e', code], {
      env: { ...process.env, GPIOD_STUB_DIR: state, GATE_AGENT_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'inherit'],
    }));
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const t0 = Date.now();
      await waitFor(() => out.includes('pulsing') && lineActive(), t0, 5000, 'the agent to pulse');
      const t1 = Date.now();
      child.kill('SIGKILL');
      await once(child, 'exit');
      await waitFor(() => !lineActive(), t1, 300 + SLACK_MS, 'the line to go inactive without the agent');
      // The holder ends when its stdin (the dead agent's pipe) closes: nothing is left behind.
      await waitFor(() => !readdirSync(state).some((f) => f.endsWith('.owner')), t0, 2000, 'the line to be released');
    } finally {
      child.kill('SIGKILL');
      rmSync(state, { recursive: true, force: true });
    }
  });
});

void describe('gpiod relay on a real GPIO chip', () => {
  const chips = existsSync('/dev') ? readdirSync('/dev').filter((n) => n.startsWith('gpiochip')) : [];
  void it('drives a real line', async (t) => {
    if (chips.length === 0) return t.skip('no /dev/gpiochip* here and gpio-sim cannot be loaded in this container');
    if (!process.env.GATE_AGENT_TEST_GPIO_LINE) return t.skip('set GATE_AGENT_TEST_GPIO_LINE=<chip>:<free line> to drive a real line');
    const [chip = '', line = ''] = process.env.GATE_AGENT_TEST_GPIO_LINE.split(':');
    const relay = new GpiodRelay({ chip, pin: Number(line), pulseMs: 200 });
    await relay.start();
    try {
      await relay.pulse();
      await relay.stop();
      const v = detectGpiodVersion('/usr/bin');
      const get = spawnSync('/usr/bin/gpioget', v === 1 ? [chip, line] : ['-c', chip, '--numeric', line], { encoding: 'utf8' });
      assert.equal(get.stdout.trim(), '0');
    } finally {
      await relay.stop();
    }
  });
});
