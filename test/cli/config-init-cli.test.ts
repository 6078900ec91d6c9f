// `gate-agent config init` through the real CLI: the flags form (as the install script calls
// it), the questions on a real terminal (a pty from script(1)), refusing to overwrite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { BIN } from '../paths.js';
import { own } from '../proc.js';
import { runCli } from './run.js';

const tempDir = async (t: { after(fn: () => Promise<void>): void }): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'config-init-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

test('config init from flags: a valid, commented config; an existing file needs --force', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'etc', 'config.yaml');
  const args = ['config', 'init', '--out', out, '--platform', 'jetson', '--camera-path', 'rtsp://cam:pw@10.0.0.20:554/s1', '--relay-line', '105', '--relay-active-low', '--broker', 'mqtts://broker.example:8883', '--central-url', 'https://central.example', '--event', 'gala-2026', '--data-dir', join(dir, 'data'), '--json'];
  const r = await runCli(args);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { file: string }).file, out);
  const text = await readFile(out, 'utf8');
  // Each key carries its description from the schema.
  assert.match(text, /# mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\/ URL of the broker.*\n\s+brokerUrl: mqtts:\/\/broker\.example:8883/);
  assert.equal(((await stat(out)).mode & 0o777).toString(8), '640', 'a config may hold a password: not world-readable');
  const c = loadConfig({ file: out, env: {} });
  assert.deepEqual(
    { board: c.relay.board, driver: c.relay.driver, pin: c.relay.pin, activeLow: c.relay.activeLow, camera: [c.camera.kind, c.camera.url], broker: c.mqtt.brokerUrl, sync: c.sync.baseUrl, event: c.event.id, models: c.models.dir },
    { board: 'jetson', driver: 'gpiod', pin: 105, activeLow: true, camera: ['rtsp', 'rtsp://cam:pw@10.0.0.20:554/s1'], broker: 'mqtts://broker.example:8883', sync: 'https://central.example', event: 'gala-2026', models: join(dir, 'data', 'models') },
  );

  const again = await runCli(args.filter((a) => a !== '--json'));
  assert.equal(again.code, 1);
  assert.match(again.stderr, new RegExp(`${out} exists; add --force to replace it`));
  assert.equal(await readFile(out, 'utf8'), text, 'the file is untouched');
  const forced = await runCli(['config', 'init', '--out', out, '--platform', 'raspberry-pi', '--relay-line', '27', '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal((parse(await readFile(out, 'utf8')) as { relay: { pin: number } }).relay.pin, 27);
});

test('config init refuses bad answers with the fix, writing nothing; --json errors are JSON', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'config.yaml');
  const r = await runCli(['config', 'init', '--out', out, '--relay-line', '99', '--broker', '127.0.0.1:17883', '--json']);
  assert.equal(r.code, 2);
  const { error } = JSON.parse(r.stdout) as { error: string };
  assert.match(error, /relay\.pin: 99: not a GPIO line of the Raspberry Pi 40-pin header/);
  assert.match(error, /mqtt\.brokerUrl: "127\.0\.0\.1:17883": has no scheme; .*"mqtt:\/\/127\.0\.0\.1:17883"/);
  await assert.rejects(stat(out), /ENOENT/);
  const p = await runCli(['config', 'init', '--out', out, '--platform', 'pi']);
  assert.match(p.stderr, /--platform "pi" is not one of raspberry-pi, jetson, generic/);
});

test('config init on a terminal asks each question, explains a refused answer and asks again', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'config.yaml');
  // script(1) gives the command a real pty as stdin; the answers arrive through it, one per line.
  const answers = ['', '/dev/video2', 'sim', '', '99', '23', 'y', 'http://broker.lan:1883', 'mqtt://broker.lan:1883', '', 'gala-2026', ''].join('\n');
  await writeFile(join(dir, 'answers'), answers);
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} config init --out ${JSON.stringify(out)} --data-dir ${JSON.stringify(join(dir, 'data'))}`;
  const child = own(spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'dumb' } }), t);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  child.stdin.end(await readFile(join(dir, 'answers')));
  const code = await new Promise<number | null>((res) => child.on('close', res));
  assert.equal(code, 0, output);
  assert.match(output, /Platform \(raspberry-pi, jetson, generic\) \[raspberry-pi\]: /);
  assert.match(output, /relay\.pin: 99: not a GPIO line of the Raspberry Pi 40-pin header/, 'line 99 was explained, then asked again');
  assert.match(output, /mqtt\.brokerUrl: "http:\/\/broker\.lan:1883": http:\/\/ is not accepted here/);
  const c = loadConfig({ file: out, env: {} });
  assert.deepEqual(
    { device: c.camera.device, kind: c.camera.kind, driver: c.relay.driver, chip: c.relay.chip, pin: c.relay.pin, activeLow: c.relay.activeLow, broker: c.mqtt.brokerUrl, sync: c.sync.baseUrl, event: c.event.id },
    { device: '/dev/video2', kind: 'v4l2', driver: 'sim', chip: 'gpiochip0', pin: 23, activeLow: true, broker: 'mqtt://broker.lan:1883', sync: null, event: 'gala-2026' },
  );
});
