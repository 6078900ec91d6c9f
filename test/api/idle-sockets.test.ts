// 20,000 idle sockets without an API key against the real `gate-agent serve` at its
// default connection caps (256 open, 32 per address), in a process allowed only 1,024
// file descriptors: without the caps it would run out at about a thousand, and /healthz
// with it. The caps close the oldest idle connections instead, so /healthz keeps
// answering throughout, from one of the flooded addresses too.
import './quiet-logs.js';
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, SHARED_MODELS } from '../paths.js';
import { own, until } from '../proc.js';

const SOCKETS = 20_000;
const WAVE = 1_000;
const FD_LIMIT = 1024;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gate-idle-sockets-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** GET /healthz from a given local address; the status, or an error message. */
function healthz(port: number, localAddress: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', localAddress, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5000 ms')));
    req.on('error', (err) => resolve(err.message));
  });
}

test('20,000 idle sockets without a key do not stop /healthz (serve at its default caps, 1,024 file descriptors)', async (t) => {
  const env = { ...process.env, GATE_AGENT_MODELS_DIR: SHARED_MODELS, GATE_AGENT_DATA_DIR: join(dir, 'data'), GATE_AGENT_LOG_LEVEL: 'warn' };
  const made = spawnSync(process.execPath, [BIN, 'events', 'add', 'evt_idle'], { env, encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const child = own(
    spawn('sh', ['-c', `ulimit -n ${FD_LIMIT} && exec "$0" "$@"`, process.execPath, BIN, 'serve', '--host', '127.0.0.1', '--port', '0', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] }),
    t,
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await until('serve to listen', () => {
    const line = stdout.split('\n').find((l) => l.startsWith('{'));
    return line ? (JSON.parse(line) as { port: number }).port : undefined;
  }, 60_000);
  const limits = await import('node:fs').then((fs) => fs.readFileSync(`/proc/${child.pid}/limits`, 'utf8'));
  assert.match(limits, new RegExp(`Max open files\\s+${FD_LIMIT}\\s`), 'the server runs with 1,024 file descriptors');
  assert.equal(await healthz(port, '127.0.0.1'), 200, stderr);

  const open = new Set<net.Socket>();
  t.after(() => open.forEach((s) => s.destroy()));
  let connected = 0;
  let closedByServer = 0;
  const answers: (number | string)[] = [];
  for (let sent = 0; sent < SOCKETS; sent += WAVE) {
    // One wave: a thousand connections from 100 loopback addresses, sending nothing.
    await Promise.all(
      Array.from({ length: WAVE }, (_, i) => {
        const s = net.connect({ port, host: '127.0.0.1', localAddress: `127.0.${1 + ((sent + i) % 100)}.1` });
        open.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          open.delete(s);
          closedByServer++;
        });
        return new Promise<void>((resolve) => {
          s.once('connect', () => (connected++, resolve()));
          s.once('close', () => resolve());
        });
      }),
    );
    // From one of the flooded addresses.
    answers.push(await healthz(port, '127.0.1.1'));
  }
  assert.deepEqual(answers.filter((a) => a !== 200), [], `every /healthz during the flood: ${answers.join(',')}`);
  assert.ok(connected >= SOCKETS * 0.95, `${connected} of ${SOCKETS} sockets were accepted (and then shed)`);
  // The server holds at most its cap; the rest were closed by it.
  await until('the server to shed down to its cap', () => (open.size <= 256 + 32 ? true : undefined), 20_000);
  t.diagnostic(`${connected} connected, ${closedByServer} closed by the server, ${open.size} still open; /healthz answered ${answers.length} times during the flood`);
  assert.doesNotMatch(stderr, /EMFILE|too many open files/i);
  assert.equal(child.exitCode, null, 'serve is still running');
  // A clean stop, so its decode workers end with it.
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
});
