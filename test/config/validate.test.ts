// Config validation: URL schemes, GPIO line and pulse bounds, "did you mean", every problem at
// once (cross-key rules included), and bad GATE_AGENT__ overrides blamed on the variable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { didYouMean, editDistance } from '../../src/config/suggest.js';
import { urlSchemeProblem } from '../../src/config/url-rule.js';

const problemsOf = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail('the config was accepted');
};

const withFile = async (text: string, fn: (file: string) => void | Promise<void>): Promise<void> => {
  const dir = await mkdtemp(join(tmpdir(), 'cfg-validate-'));
  try {
    await writeFile(join(dir, 'gate.yaml'), text);
    await fn(join(dir, 'gate.yaml'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

test('edit distance and "did you mean" pick a near key and nothing for a far one', () => {
  assert.equal(editDistance('treshold', 'threshold'), 1);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(didYouMean('brokerurl', ['brokerUrl', 'clientId']), 'brokerUrl', 'case is not a typo worth refusing a hint for');
  assert.equal(didYouMean('pulsMs', ['pin', 'pulseMs', 'chip']), 'pulseMs');
  assert.equal(didYouMean('colour', ['pin', 'pulseMs', 'chip']), null);
});

test('URL keys: a missing or wrong scheme is refused with the URL it should be', () => {
  const broker = ['mqtt', 'mqtts', 'ws', 'wss'];
  assert.match(urlSchemeProblem('127.0.0.1:17883', broker)!, /has no scheme; .* e\.g\. "mqtt:\/\/127\.0\.0\.1:17883"/);
  assert.match(urlSchemeProblem('http://broker.lan:9001', broker)!, /http:\/\/ is not accepted here; use mqtt:\/\/, mqtts:\/\/, ws:\/\/, wss:\/\/, e\.g\. "ws:\/\/broker\.lan:9001"/);
  assert.match(urlSchemeProblem('https://broker.lan', broker)!, /e\.g\. "wss:\/\/broker\.lan"/);
  assert.match(urlSchemeProblem('mqtt://', broker)!, /has no host|not a valid URL/);
  for (const ok of ['mqtt://127.0.0.1:1883', 'mqtts://b.example:8883', 'ws://b:9001/mqtt', 'wss://u:p@b/mqtt']) assert.equal(urlSchemeProblem(ok, broker), null, ok);
});

test('every problem at once: schemes, line and pulse bounds, typos and cross-key rules together', async () => {
  const yaml = [
    'mqtt:',
    '  brokerUrl: 127.0.0.1:17883',
    'sync:',
    '  baseUrl: ftp://central.example',
    'relay:',
    '  pin: 99',
    '  pulseMs: 300000',
    '  doorPin: 300',
    'match:',
    '  treshold: 0.3',
    'gate:',
    '  votesNeeded: 9',
    '',
  ].join('\n');
  await withFile(yaml, (file) => {
    const e = problemsOf(() => loadConfig({ file, env: {} }));
    const p = e.problems.join('\n');
    assert.match(e.message, new RegExp(`^config ${file} has ${e.problems.length} problem`));
    assert.match(p, /^mqtt\.brokerUrl: "127\.0\.0\.1:17883": has no scheme; .*"mqtt:\/\/127\.0\.0\.1:17883"$/m);
    assert.match(p, /^sync\.baseUrl: "ftp:\/\/central\.example": ftp:\/\/ is not accepted here; use https:\/\/, http:\/\//m);
    assert.match(p, /^relay\.pin: 99: not a GPIO line of the Raspberry Pi 40-pin header \(BCM 0\.\.27\); use the BCM number/m);
    assert.match(p, /^relay\.pulseMs: 300000: must be <= 30000; .*intermittent duty/m);
    assert.match(p, /^relay\.doorPin: 300: must be <= 255/m);
    assert.match(p, /^match\.treshold: unknown key; did you mean "threshold"\?$/m);
    // The cross-key rule runs although schema errors exist (it used to wait for them to be fixed).
    assert.match(p, /^gate\.votesNeeded: 9: more than votesWindow/m);
    assert.equal(e.problems.length, 7, p);
  });
});

test('relay.board: a Jetson line above the Pi header is fine; one line used twice is refused', () => {
  const jetson = loadConfig({ file: null, env: { GATE_AGENT__relay__board: 'jetson', GATE_AGENT__relay__pin: '105' } });
  assert.equal(jetson.relay.pin, 105);
  assert.throws(() => loadConfig({ file: null, env: { GATE_AGENT__relay__board: 'jetson', GATE_AGENT__relay__pin: '256' } }), /relay\.pin: 256: must be <= 255/);
  const e = problemsOf(() => loadConfig({ file: null, env: { GATE_AGENT__relay__exitButtonPin: '17' } }));
  assert.match(e.problems[0]!, /^relay\.exitButtonPin: 17: the same line as relay\.pin; each input and output needs its own line/);
});

test('a bad GATE_AGENT__ override is blamed on the variable, not on the file', async () => {
  await withFile('version: 1\ngateId: north-1\n', (file) => {
    const e = problemsOf(() => loadConfig({ file, env: { GATE_AGENT__mqtt__brokerUrl: 'http://broker.lan:1883', GATE_AGENT__match__treshold: '0.4' } }));
    assert.match(e.message, new RegExp(`^the GATE_AGENT__ environment variables \\(on top of config ${file}, which is fine\\) have 2 problem`));
    assert.match(e.problems.join('\n'), /^mqtt\.brokerUrl: "http:\/\/broker\.lan:1883": .*\[set by the environment variable GATE_AGENT__mqtt__brokerUrl, not the file: fix or unset it\]$/m);
    assert.match(e.problems.join('\n'), /^match\.treshold: unknown key; did you mean "threshold"\? \[set by the environment variable GATE_AGENT__match__treshold/m);
  });
  await withFile('relay:\n  pin: 99\n', (file) => {
    const e = problemsOf(() => loadConfig({ file, env: { GATE_AGENT__match__threshold: '0.4' } }));
    assert.match(e.message, new RegExp(`^config ${file} has 1 problem`));
    assert.doesNotMatch(e.message, /environment variable/, 'a good variable next to a bad file is not blamed');
  });
});

test('numbers YAML can write but no key can mean (.nan, .inf) are refused, shown as written', async () => {
  await withFile('daemon:\n  shutdownDeadlineMs: .inf\ngate:\n  trackTtlMs: .nan\nmatch:\n  threshold: -.inf\n', (file) => {
    const e = problemsOf(() => loadConfig({ file, env: {} }));
    const p = e.problems.join('\n');
    assert.match(p, /^daemon\.shutdownDeadlineMs: Infinity: must be integer; this key is: A graceful stop/m);
    assert.match(p, /^gate\.trackTtlMs: NaN: must be integer; this key is: A track not detected/m);
    assert.match(p, /^match\.threshold: -Infinity: must be number; this key is: Cosine similarity/m);
    assert.equal(e.problems.length, 3, p);
  });
});
