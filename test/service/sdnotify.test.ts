// Real datagrams: a python3 listener on a unix SOCK_DGRAM socket plays
// systemd's side, and the real systemd-notify binary sends.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SdNotify } from '../../src/service/sdnotify.js';
import { startNotifyListener } from './notify-listener.js';

const whyNot = spawnSync('which', ['systemd-notify', 'python3']).status === 0 ? null : 'needs systemd-notify and python3';

async function withListener(fn: (socket: string, messages: string[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sdnotify-'));
  const socket = join(dir, 'notify.sock');
  const listener = await startNotifyListener(socket);
  try {
    await fn(socket, listener.messages);
  } finally {
    listener.process.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function until(pred: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

void describe('SdNotify', () => {
  void it('sends READY=1, STATUS, watchdog pings at half WATCHDOG_USEC, then STOPPING=1', async (t) => {
    if (whyNot) return t.skip(whyNot);
    await withListener(async (socket, messages) => {
      let asked = 0;
      const n = new SdNotify({ env: { ...process.env, NOTIFY_SOCKET: socket, WATCHDOG_USEC: '300000', WATCHDOG_PID: String(process.pid) }, healthy: () => (asked++, true) });
      assert.equal(n.watchdogIntervalMs(), 150);
      try {
        await n.ready('gate open for business');
        await until(() => messages.length >= 1, 2000);
        assert.ok(messages[0]?.split('\n').includes('READY=1'), messages[0]);
        assert.ok(messages[0]?.includes('STATUS=gate open for business'));
        await until(() => messages.filter((m) => m.includes('WATCHDOG=1')).length >= 2, 2000);
        await n.stopping();
        await until(() => messages.some((m) => m.includes('STOPPING=1')), 2000);
        const after = messages.length;
        const askedAtStop = asked;
        // An absence can only be shown over time: three watchdog intervals pass without a ping.
        await new Promise((r) => setTimeout(r, 3 * n.watchdogIntervalMs()!));
        assert.equal(asked, askedAtStop, 'the watchdog timer is gone after STOPPING=1');
        assert.ok(!messages.slice(after).some((m) => m.includes('WATCHDOG=1')), 'no ping after STOPPING=1');
      } finally {
        n.stop();
      }
    });
  });

  void it('withholds watchdog pings while unhealthy', async (t) => {
    if (whyNot) return t.skip(whyNot);
    await withListener(async (socket, messages) => {
      let asked = 0;
      const n = new SdNotify({ env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '100000', PATH: process.env.PATH }, healthy: () => (asked++, false) });
      try {
        await n.ready();
        await until(() => messages.some((m) => m.includes('READY=1')), 5000);
        // Three pings were due and each was withheld.
        await until(() => asked >= 3, 5000);
        await n.send(['STATUS=marker']);
        await until(() => messages.some((m) => m.includes('STATUS=marker')), 5000);
        assert.ok(!messages.some((m) => m.includes('WATCHDOG=1')));
      } finally {
        n.stop();
      }
    });
  });

  void it('does nothing at all when NOTIFY_SOCKET is unset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdnotify-spy-'));
    try {
      const spy = join(dir, 'systemd-notify');
      writeFileSync(spy, `#!/bin/sh\ntouch ${JSON.stringify(join(dir, 'called'))}\n`);
      chmodSync(spy, 0o755);
      // The spy works: with a socket set it is run.
      await new SdNotify({ env: { NOTIFY_SOCKET: '/nonexistent' }, command: spy }).ready();
      assert.ok(existsSync(join(dir, 'called')));
      rmSync(join(dir, 'called'));

      const n = new SdNotify({ env: { WATCHDOG_USEC: '100000' }, command: spy });
      assert.equal(n.enabled, false);
      assert.equal(n.watchdogIntervalMs(), null);
      await n.ready('x');
      await n.status('y');
      await new Promise((r) => setTimeout(r, 150));
      await n.stopping();
      assert.equal(existsSync(join(dir, 'called')), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('ignores a watchdog meant for another process', () => {
    const n = new SdNotify({ env: { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '100000', WATCHDOG_PID: String(process.pid + 1) } });
    assert.equal(n.watchdogIntervalMs(), null);
  });
});
