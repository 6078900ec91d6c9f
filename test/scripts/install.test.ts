// scripts/install.sh against a temporary Debian root (this machine's /usr, read-only, with a
// /etc, /opt, /var and /usr/local of its own, in a private mount namespace): installed twice
// (the second run changes nothing), upgraded, rolled back, and the installed CLI run from
// /opt inside the root, where the clone does not exist.
//
// Not testable here, and so not tested: `systemctl enable --now` and a restart on a booted
// systemd (there is none in this container: the unit is enabled offline with
// `systemctl --root`), udev applying the rule to a real /dev/gpiochip*, and a Raspberry Pi or
// Jetson itself (board detection from /proc/device-tree/model, the camera, the relay).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile, chmod, realpath } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, SHARED_MODELS } from '../paths.js';
import { own } from '../proc.js';

const INSTALL = join(ROOT, 'scripts', 'install.sh');
const HARNESS = join(ROOT, 'test', 'scripts', 'debian-root.sh');
const VERSION = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const MODEL_FILES = ['scrfd_500m_kps.onnx', 'scrfd_2.5g_kps.onnx', 'arcface_mbf_w600k_int8.onnx', 'minifasnet_v2_2.7.onnx', 'minifasnet_v1se_4.0.onnx'];

let t: string;
let root: string;
let local: string;
const r = (p: string): string => (p.startsWith('/usr/local/') ? join(local, p.slice('/usr/local/'.length)) : join(root, p));

interface Run { code: number | null; out: string }

/** A command inside the prepared root's mount namespace (install.sh runs on the host side of it). */
function inNamespace(cmd: string[], timeoutMs = 600_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = own(spawn('unshare', ['--mount', '--propagation', 'private', HARNESS, root, local, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs }));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}
const install = (args: string[], src = INSTALL): Promise<Run> => inNamespace([src, '--root', root, '--platform', 'raspberry-pi', '--no-build', ...args]);
const chrooted = (cmd: string[]): Promise<Run> => inNamespace(['chroot', root, ...cmd]);
const asAgent = (cmd: string[]): Promise<Run> => chrooted(['runuser', '-u', 'gate-agent', '--', ...cmd]);

/** Every entry under the dirs the installer writes: type, mode, owner, size, mtime, inode, link target. */
async function snapshot(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(p: string): Promise<void> {
    const s = await lstat(p);
    // Not the installer's: doctor opens the database on every run, and onnxruntime-node
    // keeps a device id under the service user's $HOME/.cache whenever a model loads.
    if (/gate-agent\.db(-wal|-shm)?$/.test(p) || p.endsWith('/var/lib/gate-agent/.cache')) return;
    const link = s.isSymbolicLink() ? ` -> ${await readlink(p)}` : '';
    const state = p.endsWith('/var/lib/gate-agent') ? '(entries change with the two above)' : `${s.size} ${s.mtimeMs} ${s.ino}`;
    out.set(p, `${s.mode.toString(8)} ${s.uid}:${s.gid} ${state}${link}`);
    if (s.isDirectory()) for (const n of await readdir(p)) await walk(join(p, n));
  }
  for (const d of ['etc', 'opt', 'var/lib']) await walk(join(root, d));
  await walk(local);
  return out;
}

const idOf = async (name: string, file: 'passwd' | 'group'): Promise<string[]> =>
  (await readFile(join(root, 'etc', file), 'utf8')).split('\n').find((l) => l.startsWith(`${name}:`))?.split(':') ?? [];
const stats = async (p: string): Promise<string> => {
  const s = await lstat(r(p));
  return `${(s.mode & 0o7777).toString(8)} ${s.uid}:${s.gid}`;
};
const sha = async (p: string): Promise<string> => createHash('sha256').update(await readFile(p)).digest('hex');

before(async () => {
  t = await mkdtemp(join(tmpdir(), 'install-'));
  root = join(t, 'root');
  local = join(t, 'usr-local');
  for (const d of ['usr', 'dev', 'proc', 'run', 'opt', 'var/lib', 'var/tmp', 'tmp', 'root']) await mkdir(join(root, d), { recursive: true });
  for (const d of ['bin', 'sbin', 'lib', 'lib64']) await symlink(`usr/${d}`, join(root, d));
  await chmod(join(root, 'tmp'), 0o1777);
  await chmod(join(root, 'var/tmp'), 0o1777);
  await mkdir(join(local, 'bin'), { recursive: true });
  // The root's own /etc starts as a copy of this machine's (users, PAM, systemd's config).
  await cp('/etc', join(root, 'etc'), { recursive: true, verbatimSymlinks: true });
});
after(async () => {
  await rm(t, { recursive: true, force: true });
});

let firstRelease = '';

test('install.sh installs everything, with the right owners and modes', { skip: process.getuid?.() !== 0 && 'needs root (users, chown, chroot, mount namespaces)' }, async () => {
  const first = await install(['--models', SHARED_MODELS]);
  assert.equal(first.code, 0, first.out);
  assert.match(first.out, /changed: created system user gate-agent/);
  assert.match(first.out, /changed: generated the store key \/etc\/gate-agent\/store\.key/);
  assert.match(first.out, /WARNING: sync\.apiKeyFile \/etc\/gate-agent\/central\.key is missing/);
  assert.match(first.out, /systemd is not running in this system/);
  assert.match(first.out, /gate-agent doctor:\n/);
  assert.match(first.out, /ok {4}models {10}scrfd_500m_kps, arcface_mbf_w600k_int8, minifasnet_v2_2\.7, minifasnet_v1se_4\.0 present/);
  assert.match(first.out, /done: \d+ change\(s\)/);

  const user = await idOf('gate-agent', 'passwd');
  const [uid, gid] = [user[2]!, user[3]!];
  assert.equal(user[5], '/var/lib/gate-agent');
  assert.equal(user[6], '/usr/sbin/nologin');
  for (const g of ['video', 'gpio']) assert.ok((await idOf(g, 'group'))[3]!.split(',').includes('gate-agent'), `gate-agent in ${g}`);

  // The agent: a real copy under /opt with production dependencies only.
  firstRelease = await readlink(r('/opt/gate-agent/current'));
  assert.match(firstRelease, new RegExp(`^releases/${VERSION.replace(/\./g, '\\.')}-[0-9a-f]{12}$`));
  const rel = r(`/opt/gate-agent/${firstRelease}`);
  for (const f of ['bin/gate-agent.js', 'dist/src/cli/main.js', 'models/manifest.json', 'config/jetson.yaml', 'systemd/gate-agent.service', 'node_modules/better-sqlite3/build/Release/better_sqlite3.node']) {
    assert.ok(existsSync(join(rel, f)), f);
  }
  for (const f of ['node_modules/typescript', 'node_modules/eslint', 'dist/test', 'src', 'node_modules/onnxruntime-node/bin/napi-v6/win32']) assert.ok(!existsSync(join(rel, f)), `${f} is not installed`);
  assert.equal(await stats(`/opt/gate-agent/${firstRelease}`), '755 0:0');
  assert.equal(await readlink(r('/usr/local/bin/gate-agent')), '/opt/gate-agent/current/bin/gate-agent.js');

  // Config and keys: root's, readable by the service's group only.
  assert.equal(await stats('/etc/gate-agent'), `750 0:${gid}`);
  assert.equal(await stats('/etc/gate-agent/config.yaml'), `640 0:${gid}`);
  assert.equal(await readFile(r('/etc/gate-agent/config.yaml'), 'utf8'), await readFile(join(ROOT, 'config', 'raspberry-pi.yaml'), 'utf8'));
  assert.equal(await stats('/etc/gate-agent/store.key'), `640 0:${gid}`);
  assert.match(await readFile(r('/etc/gate-agent/store.key'), 'utf8'), /^[0-9a-f]{64}\n$/);
  assert.equal(await stats('/var/lib/gate-agent'), `750 ${uid}:${gid}`);
  assert.equal(await stats('/var/lib/gate-agent/models'), `750 ${uid}:${gid}`);
  for (const f of MODEL_FILES) {
    const p = r(`/var/lib/gate-agent/models/${f}`);
    assert.equal(await sha(p), await sha(join(SHARED_MODELS, f)), f);
    assert.equal((await lstat(p)).uid, Number(uid), `${f} belongs to gate-agent`);
  }
  // doctor ran as the service user: the database it opened is the service's.
  assert.equal((await lstat(r('/var/lib/gate-agent/gate-agent.db'))).uid, Number(uid));

  // systemd unit, enabled offline; the udev rule.
  assert.equal(await readFile(r('/etc/systemd/system/gate-agent.service'), 'utf8'), await readFile(join(ROOT, 'systemd', 'gate-agent.service'), 'utf8'));
  assert.equal(await readlink(r('/etc/systemd/system/multi-user.target.wants/gate-agent.service')), '/etc/systemd/system/gate-agent.service');
  assert.match(await readFile(r('/etc/udev/rules.d/60-gate-agent-gpio.rules'), 'utf8'), /^SUBSYSTEM=="gpio", KERNEL=="gpiochip\*", GROUP="gpio", MODE="0660"$/m);
});

test('a second run changes nothing, and says so', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
  const before = await snapshot();
  const again = await install(['--models', SHARED_MODELS]);
  assert.equal(again.code, 0, again.out);
  assert.doesNotMatch(again.out, /install\.sh: changed:/);
  assert.match(again.out, /nothing changed: gate-agent .* was already installed as asked/);
  const after = await snapshot();
  const diff = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k));
  assert.deepEqual(diff, [], 'no file created, removed, rewritten or re-owned');
});

test('the installed CLI runs from /opt inside the root, where the clone does not exist', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
  assert.ok(!existsSync(join(root, ROOT)), 'the clone is not in the root');
  const v = await chrooted(['/usr/local/bin/gate-agent', '--version']);
  assert.equal(v.code, 0, v.out);
  assert.equal(v.out.trim(), VERSION);
  const doc = await asAgent(['/usr/local/bin/gate-agent', 'doctor', '--config', '/etc/gate-agent/config.yaml', '--json']);
  const checks = (JSON.parse(doc.out.trim().split('\n').pop()!) as { checks: { name: string; status: string; detail: string }[] }).checks;
  const by = Object.fromEntries(checks.map((c) => [c.name, c]));
  for (const name of ['config', 'models']) assert.equal(by[name]?.status, 'ok', `${name}: ${by[name]?.detail}`);
  // No camera, GPIO chip, broker or central server here: those checks must say so, not pass.
  assert.equal(doc.code, 1);
  assert.notEqual(by.camera?.status, 'ok');
});

test('an upgrade keeps config, keys, models and data, backs up the database; --rollback goes back', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
  // A newer build of the agent: a copy of the packed parts of this clone with another version.
  const src = join(t, 'newer');
  for (const d of ['bin', 'dist/src', 'models', 'config', 'systemd', 'scripts', 'docs']) await cp(join(ROOT, d), join(src, d), { recursive: true, filter: (p) => !p.endsWith('.onnx') });
  for (const f of ['README.md', 'package-lock.json']) await cp(join(ROOT, f), join(src, f));
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  pkg.version = `${VERSION}-next`;
  await writeFile(join(src, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  await symlink(await realpath(join(ROOT, 'node_modules')), join(src, 'node_modules'));
  const kept = ['/etc/gate-agent/config.yaml', '/etc/gate-agent/store.key', ...MODEL_FILES.map((f) => `/var/lib/gate-agent/models/${f}`)];
  const before = await snapshot();

  const up = await install([], join(src, 'scripts', 'install.sh'));
  assert.equal(up.code, 0, up.out);
  assert.match(up.out, /changed: backed up the database to \/var\/lib\/gate-agent\/backups\/before-.*-next-[0-9a-f]{12}\.db/);
  const after = await snapshot();
  for (const p of kept) assert.equal(after.get(r(p)), before.get(r(p)), `${p} untouched`);
  assert.equal(await readlink(r('/opt/gate-agent/previous')), firstRelease);
  assert.equal((await chrooted(['/usr/local/bin/gate-agent', '--version'])).out.trim(), `${VERSION}-next`);
  const backups = await readdir(r('/var/lib/gate-agent/backups'));
  assert.equal(backups.length, 1);
  assert.equal(await stats(`/var/lib/gate-agent/backups/${backups[0]}`), `600 ${(await idOf('gate-agent', 'passwd'))[2]}:${(await idOf('gate-agent', 'passwd'))[3]}`);

  const back = await inNamespace([INSTALL, '--root', root, '--rollback']);
  assert.equal(back.code, 0, back.out);
  assert.match(back.out, /rolled back from .*-next-[0-9a-f]{12} to /);
  assert.equal(await readlink(r('/opt/gate-agent/current')), firstRelease);
  assert.equal((await chrooted(['/usr/local/bin/gate-agent', '--version'])).out.trim(), VERSION);
});
