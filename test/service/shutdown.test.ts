import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { ROOT } from '../paths.js';
import { EXIT_COMPONENT_FAILED, EXIT_DEADLINE, EXIT_OK } from '../../src/service/shutdown.js';
import { own } from '../proc.js';

const CHILD = join(ROOT, 'dist', 'test', 'service', 'shutdown-child.js');

/** Starts the child daemon, sends the signals, returns its lines and exit code. */
async function run(mode: string, signals: NodeJS.Signals[], gapMs = 50): Promise<{ lines: string[]; code: number | null; ms: number }> {
  const child = own(spawn(process.execPath, [CHILD, mode], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, GATE_AGENT_LOG_LEVEL: 'silent' } }));
  try {
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    while (!out.includes('ready\n')) {
      if (child.exitCode !== null) throw new Error(`child exited early: ${out}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const t0 = Date.now();
    const exited = once(child, 'exit');
    for (const s of signals) {
      child.kill(s);
      await new Promise((r) => setTimeout(r, gapMs));
    }
    const [code] = (await exited) as [number | null];
    return { lines: out.trim().split('\n').slice(1), code, ms: Date.now() - t0 };
  } finally {
    child.kill('SIGKILL');
  }
}

void describe('Shutdown', () => {
  void it('makes the relay safe first, then stops every component in order', async () => {
    const r = await run('normal', ['SIGTERM']);
    assert.equal(r.code, EXIT_OK);
    assert.equal(r.lines[0], 'safe');
    assert.equal(r.lines.filter((l) => l === 'safe').length, 3, r.lines.join('\n'));
    assert.deepEqual(r.lines.filter((l) => l.startsWith('stop:')), [
      'stop:capture relay-active=false',
      'stop:mqtt relay-active=false',
      'stop:store relay-active=false',
    ]);
  });

  void it('stops the remaining components when one fails, and exits non-zero', async () => {
    const r = await run('failing', ['SIGINT']);
    assert.equal(r.code, EXIT_COMPONENT_FAILED);
    assert.ok(r.lines.includes('stop:store relay-active=false'), r.lines.join('\n'));
  });

  void it('a second signal does not restart the shutdown', async () => {
    const r = await run('slow', ['SIGTERM', 'SIGINT', 'SIGTERM'], 60);
    assert.equal(r.code, EXIT_OK);
    assert.equal(r.lines.filter((l) => l.startsWith('stop:capture')).length, 1, r.lines.join('\n'));
    assert.equal(r.lines.filter((l) => l.startsWith('stop:store')).length, 1);
  });

  void it('a hanging component hits the deadline: relay made safe again, non-zero exit', async () => {
    const r = await run('hang', ['SIGTERM']);
    assert.equal(r.code, EXIT_DEADLINE);
    assert.ok(!r.lines.includes('stop:store relay-active=false'), 'store is never reached');
    // safe() runs from the fail-safe signal hook, the shutdown start and the
    // exit hook (3 in a clean stop, see the first test), plus once more when
    // the deadline forces the exit.
    assert.equal(r.lines.filter((l) => l === 'safe').length, 4, r.lines.join('\n'));
    assert.ok(r.ms < 3000, `took ${r.ms} ms with a 400 ms deadline`);
  });
});
