// Under systemd the log goes to the journal with a priority per line, so `journalctl -p err`
// shows the errors. A real systemd-journald is started in a private mount and pid namespace
// (its sockets and files on tmpfs, gone with the namespace); systemd-cat connects the agent's
// stderr to it, and JOURNAL_STREAM is set as for a unit with StandardError=journal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { journalLine, syslogPriority } from '../../src/log.js';
import { BIN, SHARED_MODELS } from '../paths.js';
import { own } from '../proc.js';

const JOURNALD = ['/lib/systemd/systemd-journald', '/usr/lib/systemd/systemd-journald'].find((p) => existsSync(p));

test('syslog priorities of the log levels, as a `<n>` prefix', () => {
  assert.deepEqual([10, 20, 30, 40, 50, 60].map(syslogPriority), [7, 7, 6, 4, 3, 2]);
  assert.equal(journalLine('{"level":50,"msg":"x"}', '{"level":50,"msg":"x"}\n'), '<3>{"level":50,"msg":"x"}\n');
});

test('journalctl -p err shows the daemon\'s errors and not its info lines', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root for a private journald');
  if (!JOURNALD) return t.skip('systemd-journald is not installed (apt-get install systemd)');
  const dir = await mkdtemp(join(tmpdir(), 'journald-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tag = `gate-agent-test-${process.pid}`;
  const script = join(dir, 'journal.sh');
  await writeFile(
    script,
    `set -e
mkdir -p /run/systemd /run/log
mount -t tmpfs tmpfs /run/systemd
mount -t tmpfs tmpfs /run/log
${JOURNALD} &
deadline=$(( $(date +%s) + 20 ))
until [ -S /run/systemd/journal/stdout ]; do [ $(date +%s) -lt $deadline ] || { echo "journald did not start" >&2; exit 1; }; sleep 0.05; done
# systemd-cat connects stderr to journald; JOURNAL_STREAM (device:inode of that stream) is
# what the service manager adds for a unit with StandardError=journal (systemd.exec(5)).
systemd-cat -t ${tag} sh -c 'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$0" "$@"' "${process.execPath}" "${BIN}" run --once --camera-path "${dir}/missing.mp4" --data-dir "${dir}/data" || true
# journald writes what it read asynchronously: wait for the last line the agent logs.
until journalctl --directory=/run/log/journal -t ${tag} --no-pager -o cat | grep -q 'shutting down'; do [ $(date +%s) -lt $deadline ] || break; sleep 0.05; done
journalctl --directory=/run/log/journal -t ${tag} -p err --no-pager -o json > "${dir}/err.json"
journalctl --directory=/run/log/journal -t ${tag} --no-pager -o json > "${dir}/all.json"
`,
  );
  const child = own(
    spawn('unshare', ['--mount', '--propagation', 'private', '--pid', '--fork', '--mount-proc', 'sh', script], {
      env: { ...process.env, GATE_AGENT_MODELS_DIR: SHARED_MODELS, GATE_AGENT__relay__driver: '"sim"', GATE_AGENT_LOG_LEVEL: 'info', GATE_AGENT_LOG_FORMAT: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
    t,
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((res) => child.on('close', res));
  assert.equal(code, 0, stderr);
  const entries = (f: string) => readFile(join(dir, f), 'utf8').then((s) => s.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { PRIORITY: string; MESSAGE: string }));
  const all = await entries('all.json');
  const errors = await entries('err.json');
  const json = (e: { MESSAGE: string }): { level?: number; msg?: string } => (e.MESSAGE.startsWith('{') ? (JSON.parse(e.MESSAGE) as { level: number; msg: string }) : {});
  assert.ok(all.some((e) => e.PRIORITY === '6' && json(e).msg === 'gate-agent starting'), 'info lines reach the journal at priority 6 (info)');
  assert.ok(errors.length > 0, JSON.stringify(all.map((e) => [e.PRIORITY, e.MESSAGE.slice(0, 80)])));
  for (const e of errors) {
    assert.ok(Number(e.PRIORITY) <= 3, e.MESSAGE);
    // The prefix was taken as the priority, not kept in the message; a log line stays JSON.
    assert.ok(e.MESSAGE.startsWith('{') ? json(e).level! >= 50 : /^gate-agent: /.test(e.MESSAGE), e.MESSAGE);
  }
  assert.ok(errors.some((e) => /event fault/.test(e.MESSAGE)), 'the event fault is among the errors');
  assert.ok(errors.some((e) => /^gate-agent: cannot start: /.test(e.MESSAGE)), 'so is the one plain line saying the start failed');
  assert.ok(!errors.some((e) => /gate-agent starting/.test(e.MESSAGE)), 'no info line passes -p err');
});
