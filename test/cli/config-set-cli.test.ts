// `gate-agent config set` through the real CLI: validated with the whole file, comments kept,
// atomic; and a running daemon (a real `gate-agent run` on a replayed walk-up) re-reads it
// on the SIGHUP that `config set` sends, and keeps running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWalkUpFrames } from '../../scripts/walk-up-frames.js';
import { BIN, SHARED_FACES, SHARED_MODELS } from '../paths.js';
import { own, until } from '../proc.js';
import { runCli } from './run.js';

const tempDir = async (t: { after(fn: () => Promise<void>): void }): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'config-set-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

test('config set: typed values, comments kept, every problem refused before the file is touched', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'gate.yaml');
  const original = `# the north door\nversion: 1\ndataDir: ${join(dir, 'data')}\nrelay:\n  # strike wired to GPIO17\n  pin: 17\n`;
  await writeFile(file, original);
  const set = (key: string, value: string, ...more: string[]) => runCli(['config', 'set', key, value, '--config', file, ...more]);

  const ok = await set('match.threshold', '0.4', '--json');
  assert.equal(ok.code, 0, ok.stderr);
  const out = JSON.parse(ok.stdout) as { changed: boolean; previous: unknown; previousFrom: string; value: unknown; reload: { sent: boolean; reason: string } };
  assert.deepEqual([out.changed, out.previous, out.previousFrom, out.value], [true, 0.34, 'default', 0.4]);
  assert.equal(out.reload.sent, false);
  assert.match(out.reload.reason, /the daemon is not running/);
  assert.equal((await set('relay.doorPin', '27')).code, 0);
  assert.equal((await set('gateId', '123')).code, 0, 'a number typed for a text key is the text');
  const secret = await set('mqtt.password', 'hunter2');
  assert.doesNotMatch(secret.stdout + secret.stderr, /hunter2/);
  const text = await readFile(file, 'utf8');
  assert.match(text, /^# the north door\n/);
  assert.match(text, /relay:\n {2}# strike wired to GPIO17\n {2}pin: 17\n {2}doorPin: 27\n/);
  assert.match(text, /^match:\n {2}threshold: 0\.4$/m);
  assert.match(text, /^gateId: "123"$/m);

  const refusals: [string, string, RegExp][] = [
    ['relay.pin', '99', /relay\.pin: 99: not a GPIO line of the Raspberry Pi 40-pin header/],
    ['relay.pulseMs', '300000', /relay\.pulseMs: 300000: must be <= 30000/],
    ['mqtt.brokerUrl', '127.0.0.1:17883', /"mqtt:\/\/127\.0\.0\.1:17883"/],
    ['relay.exitButtonPin', '27', /relay\.exitButtonPin: 27: the same line as relay\.doorPin/],
    ['match.treshold', '0.3', /match\.treshold: unknown key; did you mean "threshold"\?/],
  ];
  for (const [key, value, why] of refusals) {
    const r = await set(key, value);
    assert.equal(r.code, 2, `${key} ${value}: ${r.stdout}`);
    assert.match(r.stderr, why);
    assert.equal(await readFile(file, 'utf8'), text, `${key} ${value}: the file is untouched`);
  }
});

test('config set tells the running daemon, which re-reads its config on SIGHUP and keeps running', async (t) => {
  const dir = await tempDir(t);
  const frames = join(dir, 'walk-up');
  await writeWalkUpFrames(join(SHARED_FACES, 'people/obama/1.jpg'), frames, { frames: 8 });
  const file = join(dir, 'gate.yaml');
  const init = await runCli(['config', 'init', '--out', file, '--platform', 'generic', '--relay-driver', 'sim', '--camera-path', frames, '--data-dir', join(dir, 'data'), '--models-dir', SHARED_MODELS]);
  assert.equal(init.code, 0, init.stderr);
  const daemon = own(
    spawn(process.execPath, [BIN, 'run', '--config', file], {
      env: { ...process.env, GATE_AGENT_LOG_LEVEL: 'info', GATE_AGENT_LOG_FORMAT: 'json', GATE_AGENT__camera__loop: 'true', GATE_AGENT__daemon__statusIntervalMs: '200' },
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
    t,
  );
  let log = '';
  daemon.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await until('the daemon writes its status', async () => ((await runCli(['status', '--config', file])).code === 0 ? true : undefined), 60_000, 200).catch((err: Error) => assert.fail(`${err.message}\n${log.slice(-2000)}`));

  const r = await runCli(['config', 'set', 'match.threshold', '0.41', '--config', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`told the running daemon \\(pid ${daemon.pid}\\) to reload`));
  const reloaded = await until('the daemon logs the reload', () => log.split('\n').find((l) => l.includes('"config reloaded"')), 15_000).catch((err: Error) => assert.fail(`${err.message}\n${log.slice(-2000)}`));
  assert.deepEqual((JSON.parse(reloaded) as { changed: string[] }).changed, ['match']);
  const later = await runCli(['status', '--json', '--config', file]);
  assert.equal(later.code, 0, `still running after SIGHUP: ${later.stdout}`);
  assert.equal((JSON.parse(later.stdout) as { pid: number; configFile: string }).configFile, file);
  assert.equal(daemon.exitCode, null);
});
