// The onoff driver on the real sysfs code path of onoff, against a fake
// /sys/class/gpio in a private mount namespace (root + unshare needed). The
// inputs (door contact, exit button) are not run there: onoff watches them
// with epoll(EPOLLPRI), which a tmpfs file cannot deliver.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../paths.js';
import { contractChecks } from './contract.js';
import { scenarioNames } from './onoff-child.js';

const CHILD = join(ROOT, 'dist', 'test', 'relay', 'onoff-child.js');
// Mounts over /sys/class/gpio where it exists, else gives /sys/class a tmpfs.
const MOUNT = 'if [ -d /sys/class/gpio ]; then mount -t tmpfs tmpfs /sys/class/gpio; ' +
  'else mount -t tmpfs tmpfs /sys/class && mkdir /sys/class/gpio; fi';

function whyNoNamespace(): string | null {
  if (process.getuid?.() !== 0) return 'needs root for unshare --mount';
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']);
  if (r.error || r.status !== 0) return `unshare --mount failed: ${r.error?.message ?? r.stderr.toString().trim()}`;
  return null;
}
const noNamespace = whyNoNamespace();

function inNamespace(scenario: string): void {
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${MOUNT} && exec "$0" "$1" "$2"`, process.execPath, CHILD, scenario], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, GATE_AGENT_LOG_LEVEL: 'silent' },
  });
  assert.equal(r.status, 0, `scenario ${scenario} failed:\n${r.stdout}\n${r.stderr}`);
}

void describe('Relay contract: onoff on a fake sysfs tree', () => {
  for (const name of Object.keys(contractChecks)) {
    void it(name, (t) => (noNamespace ? t.skip(noNamespace) : inNamespace(`contract:${name}`)));
  }
});

void describe('onoff relay fail-secure', () => {
  for (const name of scenarioNames) {
    void it(name, (t) => (noNamespace ? t.skip(noNamespace) : inNamespace(name)));
  }
});
