// `gate-agent doctor` and `gate-agent relay test` through the real CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { statSync } from 'node:fs';
import { ROOT, SHARED_FACES } from '../paths.js';
import { Mosquitto } from '../publish/mosquitto.js';
import BetterSqlite3 from 'better-sqlite3';
import { chown } from 'node:fs/promises';
import { runCli } from './run.js';

let dir: string;
let env: Record<string, string>;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'doctor-'));
  env = { GATE_AGENT_DATA_DIR: join(dir, 'data'), GATE_AGENT_LOG_LEVEL: 'error' };
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

type Doctor = { ok: boolean; checks: { name: string; status: string; detail: string }[] };
const byName = (d: Doctor) => Object.fromEntries(d.checks.map((c) => [c.name, c]));

test('doctor: every failure says what is wrong and what to do, and fails the exit code', async () => {
  // A port nobody listens on: take a free one and close it again.
  const port = await new Promise<number>((res) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); }); });
  const r = await runCli(['doctor', '--json'], { ...env, GATE_AGENT__event__id: '"gala"', GATE_AGENT__mqtt__brokerUrl: JSON.stringify(`mqtt://127.0.0.1:${port}`), GATE_AGENT__camera__kind: '"v4l2"', GATE_AGENT__camera__device: '"/dev/video9"' });
  assert.equal(r.code, 1, r.stderr);
  const c = byName(JSON.parse(r.stdout) as Doctor);
  assert.equal(c.models!.status, 'ok');
  assert.equal(c.database!.status, 'ok');
  assert.equal(c.event!.status, 'fail');
  assert.match(c.event!.detail, /event gala is not in the local cache; run `gate-agent sync --event gala`/);
  assert.equal(c.broker!.status, 'fail');
  assert.match(c.broker!.detail, new RegExp(`127.0.0.1:${port} not reachable \\(ECONNREFUSED\\)`));
  assert.equal(c.camera!.status, 'fail');
  assert.match(c.camera!.detail, /\/dev\/video9 does not exist/);
});

test('doctor fails what `run` would fail on: wrong broker password, missing GPIO chip, foreign-owned data, busy API port, clock gone back, open key file', async (t) => {
  const data = join(dir, 'faults');
  const fenv = { ...env, GATE_AGENT_DATA_DIR: data };
  assert.equal((await runCli(['events', 'add', 'gala'], fenv)).code, 0);
  const broker = await Mosquitto.launch({ users: { gate: 'right-password' } });
  t.after(() => broker.dispose());
  const busy = createServer();
  await new Promise<void>((res) => busy.listen(0, '127.0.0.1', res));
  t.after(() => busy.close());
  const busyPort = (busy.address() as { port: number }).port;
  const key = join(dir, 'store.key');
  await writeFile(key, 'ab'.repeat(32), { mode: 0o644 });
  // The gate recorded a command a day "ahead" of now: the clock has gone back since.
  const db = new BetterSqlite3(join(data, 'gate-agent.db'));
  db.prepare('INSERT INTO command_requests (name, id, received_ms, response) VALUES (?, ?, ?, ?)').run('open', 'r1', Date.now() + 86_400_000, '{}');
  db.close();
  await chown(join(data, 'gate-agent.db'), 4321, 4321);
  const r = await runCli(['doctor', '--json'], {
    ...fenv,
    GATE_AGENT__event__id: '"gala"',
    GATE_AGENT__mqtt__brokerUrl: JSON.stringify(broker.url),
    GATE_AGENT__mqtt__username: '"gate"',
    GATE_AGENT__mqtt__password: '"wrong-password"',
    GATE_AGENT__relay__driver: '"gpiod"',
    GATE_AGENT__relay__chip: '"gpiochip7"',
    GATE_AGENT__api__enabled: 'true',
    GATE_AGENT__api__host: '"127.0.0.1"',
    GATE_AGENT__api__port: String(busyPort),
    GATE_AGENT__store__keyFile: JSON.stringify(key),
  });
  assert.equal(r.code, 1, r.stderr);
  const c = byName(JSON.parse(r.stdout) as Doctor);
  assert.equal(c.broker!.status, 'fail');
  // mosquitto answers a wrong password with "not authorized" (MQTT 3.1.1 return code 5).
  assert.match(c.broker!.detail, /broker refused the connection: not authorized \(check mqtt\.username\/password/);
  assert.equal(c.relay!.status, 'fail');
  assert.match(c.relay!.detail, /relay\.chip gpiochip7: \/dev\/gpiochip7 does not exist/);
  assert.equal(c['data owner']!.status, 'fail');
  assert.match(c['data owner']!.detail, /gate-agent\.db belong\(s\) to uid 4321, not this user/);
  assert.equal(c['api port']!.status, 'fail');
  assert.match(c['api port']!.detail, new RegExp(`127\\.0\\.0\\.1:${busyPort}: cannot listen \\(EADDRINUSE`));
  assert.equal(c.clock!.status, 'fail');
  assert.match(c.clock!.detail, /the clock went back/);
  assert.equal(c['store.keyFile']!.status, 'warn');
  assert.match(c['store.keyFile']!.detail, /readable by every user \(mode 644\); `chmod 600/);
  // Every command that opens the store warns about it too.
  const list = await runCli(['events', 'list'], { ...env, GATE_AGENT_DATA_DIR: join(dir, 'keyed'), GATE_AGENT__store__keyFile: JSON.stringify(key), GATE_AGENT_LOG_LEVEL: 'warn' });
  assert.match(list.stderr, /store key file .*store\.key is readable by every user \(mode 644\); run `chmod 600/);

  // The same broker with the right password passes: the check really connected.
  const good = await runCli(['doctor', '--json'], { ...env, GATE_AGENT__mqtt__brokerUrl: JSON.stringify(broker.url), GATE_AGENT__mqtt__username: '"gate"', GATE_AGENT__mqtt__password: '"right-password"' });
  assert.equal(byName(JSON.parse(good.stdout) as Doctor).broker!.status, 'ok', good.stdout);
});

test('doctor: a ready gate passes, with warnings for what this machine lacks', async () => {
  assert.equal((await runCli(['events', 'add', 'gala'], env)).code, 0);
  assert.equal((await runCli(['enroll', '--event', 'gala', '--user', 'u1', join(SHARED_FACES, 'people/biden/1.jpg')], env)).code, 0);
  const r = await runCli(['doctor'], { ...env, GATE_AGENT__event__id: '"gala"' });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^ok\s+event\s+event gala: 1 attendee\(s\)$/m);
  assert.match(r.stdout, /^ok\s+threshold\s+matching at 0.34 for 1 attendee\(s\): match.threshold; the target FPIR 0.10% is met below it/m);
  assert.match(r.stdout, /^WARN\s+relay\s+no GPIO on this machine/m);
  assert.doesNotMatch(r.stdout, /^FAIL/m);
});

test('relay test pulses the configured relay once and sees it drop; a pulse longer than relay.pulseMs is refused', async () => {
  const r = await runCli(['relay', 'test', '--pulse-ms', '150', '--json'], { ...env, GATE_AGENT__relay__driver: '"sim"' });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { driver: 'sim', pin: 17, pulseMs: 150, pulsed: true, activeAfter: false });
  const long = await runCli(['relay', 'test', '--pulse-ms', '99999'], env);
  assert.equal(long.code, 2);
  assert.match(long.stderr, /--pulse-ms must be a number from 1 to relay.pulseMs \(3000\)/);
});

/** A gpiod bin dir: the v1 gpioset stand-in (test/relay/fixtures), or one that always fails like a missing chip. */
async function gpiodBin(kind: 'stub' | 'broken'): Promise<{ bin: string; stubDir: string }> {
  const bin = await mkdtemp(join(dir, `gpiod-${kind}-`));
  const stubDir = join(bin, 'lines');
  await mkdir(stubDir);
  if (kind === 'stub') await copyFile(join(ROOT, 'test/relay/fixtures/gpioset-v1-stub'), join(bin, 'gpioset'));
  else await writeFile(join(bin, 'gpioset'), '#!/bin/sh\ncase "$1" in --version) echo "gpioset (libgpiod) v1.6.3"; exit 0;; esac\necho "gpioset: error setting the GPIO line values: No such file or directory" >&2\nexit 1\n');
  await chmod(join(bin, 'gpioset'), 0o755);
  return { bin, stubDir };
}

test('relay test reports what the line did: a gpioset that fails is exit 1 with its reason; a working one is confirmed', async () => {
  const broken = await gpiodBin('broken');
  const r = await runCli(['relay', 'test', '--pulse-ms', '100'], { ...env, GATE_AGENT__relay__driver: '"gpiod"', GATE_AGENT__relay__gpiodBinDir: JSON.stringify(broken.bin) });
  assert.equal(r.code, 1, r.stdout);
  assert.equal(r.stdout, '', 'no success line');
  assert.match(r.stderr, /gate-agent: relay test: the gpiod relay on line 17 did not pulse: relay: gpioset failed \(exit 1\): gpioset: error setting the GPIO line values: No such file or directory/);
  assert.doesNotMatch(r.stderr, /"stack"|at .*\.js:\d+/, 'no stack trace');

  const stub = await gpiodBin('stub');
  const ok = await runCli(['relay', 'test', '--pulse-ms', '200', '--json'], { ...env, GATE_AGENT__relay__driver: '"gpiod"', GATE_AGENT__relay__gpiodBinDir: JSON.stringify(stub.bin), GPIOD_STUB_DIR: stub.stubDir });
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(JSON.parse(ok.stdout), { driver: 'gpiod', pin: 17, pulseMs: 200, pulsed: true, activeAfter: false });
  // The stand-in logged the line going active and back, as the kernel would.
  const levels = (await readFile(join(stub.stubDir, 'gpiochip0-17.log'), 'utf8')).trim().split('\n').map((l) => l.split(' ')[0]);
  assert.ok(levels.includes('1') && levels.at(-1) === '0', levels.join(','));
});

test('relay test refuses while another live gate-agent process holds the line', async () => {
  const data = join(dir, 'locked');
  await mkdir(data, { recursive: true });
  // This test process stands in for a running daemon: it is alive and not the CLI.
  await writeFile(join(data, 'relay.lock'), `${process.pid}\n`);
  const r = await runCli(['relay', 'test', '--pulse-ms', '100'], { ...env, GATE_AGENT_DATA_DIR: data, GATE_AGENT__relay__driver: '"sim"' });
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`relay test: the relay line is held by another gate-agent process \\(pid ${process.pid}\\); stop it first`));
  // A stale lock (its process is gone) does not block.
  await writeFile(join(data, 'relay.lock'), '999999999\n');
  assert.equal((await runCli(['relay', 'test', '--pulse-ms', '100'], { ...env, GATE_AGENT_DATA_DIR: data, GATE_AGENT__relay__driver: '"sim"' })).code, 0);
});

test('a database the command cannot write (made by root, used by another user) is one line with what to do', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to run the CLI as another user');
  const data = join(dir, 'root-owned');
  assert.equal((await runCli(['events', 'add', 'x'], { ...env, GATE_AGENT_DATA_DIR: data })).code, 0);
  // The other user can reach the folder and read the database, as on a gate, but not write it.
  await chmod(dir, 0o755);
  await chmod(data, 0o755);
  // The other user must be able to load the agent itself: a checkout in a folder only root
  // may enter (`mktemp -d` makes them 0700) fails with a module-loading error instead.
  for (let d = ROOT; ; d = dirname(d)) {
    assert.ok(statSync(d).mode & 0o001, `${d} cannot be entered by other users (mode ${(statSync(d).mode & 0o777).toString(8)}); this test runs the CLI as uid 65534 from this checkout: chmod o+x ${d}`);
    if (dirname(d) === d) break;
  }
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/gate-agent.js'), 'events', 'add', 'y'], {
    uid: 65534,
    gid: 65534,
    encoding: 'utf8',
    env: { ...process.env, GATE_AGENT_DATA_DIR: data, GATE_AGENT_LOG_LEVEL: 'error' },
  });
  assert.equal(r.status, 1, r.stderr);
  // After the line naming the config in use: one line with what to do, no stack trace.
  const [configLine, ...rest] = r.stderr.trim().split('\n');
  assert.match(configLine!, /^gate-agent: no config file /);
  assert.equal(rest.length, 1, r.stderr);
  assert.match(rest[0]!, /^gate-agent: the gate's data cannot be written: attempt to write a readonly database\. .*`sudo -u gate-agent gate-agent …`/);
});
