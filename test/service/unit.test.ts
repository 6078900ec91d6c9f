import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../paths.js';

const UNIT = join(ROOT, 'systemd', 'gate-agent.service');

void describe('systemd/gate-agent.service', () => {
  void it('passes systemd-analyze verify without a single warning', (t) => {
    const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    if (r.error) return t.skip('systemd-analyze is not installed here');
    assert.equal(r.status, 0, r.stderr);
    // verify exits 0 on unknown keys, so the output is the real signal.
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '');
  });

  void it('has what the agent relies on', () => {
    const unit = readFileSync(UNIT, 'utf8');
    for (const line of ['Type=notify', 'NotifyAccess=all', 'Restart=always', 'User=gate-agent', 'SupplementaryGroups=video gpio', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/gate-agent']) {
      assert.match(unit, new RegExp(`^${line}$`, 'm'), line);
    }
    assert.match(unit, /^WatchdogSec=\d+/m);
  });
});
