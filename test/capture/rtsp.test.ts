// No RTSP camera or server here; what can be checked for real is that an unreachable
// camera is a loss (retried, not thrown) and that its password reaches no event, status
// or log line, with ffmpeg's own error text in the reason.
import './quiet-logs.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { ROOT } from '../paths.js';

const script = `
import { createFrameSource } from ${JSON.stringify(resolve(ROOT, 'dist/src/capture/index.js'))};
const src = createFrameSource({ kind: 'rtsp', url: 'rtsp://admin:hunter2secret@127.0.0.1:9/live', restartBackoffMinMs: 50, rtspTimeoutMs: 1000 });
const lost = new Promise((r) => src.on('lost', r));
await src.start();
const e = await lost;
// Wait (with a deadline) until it has retried at least once and is lost again.
const deadline = performance.now() + 8000;
while (!(src.status().restarts >= 1 && src.status().state === 'lost') && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
const st = src.status();
await src.stop();
console.log(JSON.stringify({ lost: e, status: st }));
`;

void test('an unreachable rtsp camera is reported lost and retried; the password appears nowhere', { timeout: 15_000 }, async () => {
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((res, rej) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, GATE_AGENT_LOG_LEVEL: 'debug' }, timeout: 10_000 }, (err, stdout, stderr) =>
      err ? rej(new Error(`${err.message}\n${stderr}`)) : res({ stdout, stderr }),
    );
  });
  const out = JSON.parse(stdout) as { lost: { reason: string }; status: { state: string; restarts: number; lastError: string; sourceId: string } };
  assert.match(out.lost.reason, /^ffmpeg exited with code \d+: .*(refused|rror)/i);
  assert.equal(out.status.state, 'lost');
  assert.ok(out.status.restarts >= 1, 'it kept retrying');
  assert.equal(out.status.sourceId, 'rtsp:127.0.0.1:9/live');
  assert.ok(stderr.includes('"level":20') && stderr.includes('ffmpeg started'), 'debug logs were captured, so the check below means something');
  assert.ok(stderr.includes('rtsp://***@127.0.0.1:9/live'), 'the command line is logged redacted');
  assert.ok(!stdout.includes('hunter2secret') && !stderr.includes('hunter2secret'), 'the password leaked');
});
