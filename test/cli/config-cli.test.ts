// `gate-agent config show` through the real CLI: secrets masked, each value's origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run.js';

interface Shown { file: string | null; values: { path: string; value: unknown; source: string }[] }

test('config show: file, env and flag values with their origin, secrets masked; --effective adds the defaults', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'config-show-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'gate.yaml');
  await writeFile(file, 'version: 1\ngateId: g7\nmqtt:\n  brokerUrl: mqtt://gate:hunter2@broker.local:1883\n  password: hunter2\n  keyFile: /etc/gate/client.key\nsync:\n  apiKey: sk-live-123\n');
  const env = { GATE_AGENT__match__threshold: '0.41' };
  const r = await runCli(['config', 'show', '--config', file, '--data-dir', join(dir, 'data'), '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /hunter2|sk-live-123/);
  const shown = JSON.parse(r.stdout) as Shown;
  const at = (p: string) => shown.values.find((v) => v.path === p);
  assert.deepEqual(at('gateId'), { path: 'gateId', value: 'g7', source: 'file' });
  assert.deepEqual(at('mqtt.password'), { path: 'mqtt.password', value: '********', source: 'file' });
  assert.deepEqual(at('sync.apiKey'), { path: 'sync.apiKey', value: '********', source: 'file' });
  assert.equal(at('mqtt.brokerUrl')?.value, 'mqtt://gate:********@broker.local:1883');
  assert.equal(at('mqtt.keyFile')?.value, '/etc/gate/client.key', 'a file name is not the secret');
  assert.deepEqual(at('match.threshold'), { path: 'match.threshold', value: 0.41, source: 'env GATE_AGENT__match__threshold' });
  assert.equal(at('dataDir')?.source, 'flag --data-dir');
  assert.equal(at('relay.pulseMs'), undefined, 'defaults only with --effective');

  const eff = await runCli(['config', 'show', '--config', file, '--effective', '--json'], env);
  assert.equal(eff.code, 0, eff.stderr);
  const all = JSON.parse(eff.stdout) as Shown;
  assert.equal(all.values.find((v) => v.path === 'relay.pulseMs')?.source, 'default');
  assert.equal(all.values.find((v) => v.path === 'gateId')?.source, 'file');

  const human = await runCli(['config', 'show', '--config', file], env);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^mqtt\.password += "\*{8}" {2}\(file\)$/m);
  assert.match(human.stdout, /^match\.threshold += 0\.41 {2}\(env GATE_AGENT__match__threshold\)$/m);
  assert.doesNotMatch(human.stdout, /hunter2|sk-live-123/);
});
