// npm run demo: the daemon on this machine without camera, GPIO or broker. It enrolls
// one attendee from the shared photos, films them walking up (and a stranger) as
// replay clips, and runs `gate-agent run --once` on each: the real commands, printed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeClip, standardPhotos } from '../test/capture/clips.js';
import { BIN, ROOT, SHARED_FACES } from '../test/paths.js';

const data = resolve(ROOT, 'data', 'demo');
rmSync(data, { recursive: true, force: true });
mkdirSync(data, { recursive: true });
const env = { ...process.env, GATE_AGENT_DATA_DIR: data, GATE_AGENT_LOG_LEVEL: process.env.GATE_AGENT_LOG_LEVEL ?? 'warn' };

function gateAgent(args: string[]): string {
  process.stdout.write(`$ gate-agent ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(r.stdout);
  if (r.status !== 0) {
    process.stderr.write(`demo: gate-agent ${args[0]} failed (exit ${r.status})\n`);
    process.exit(r.status ?? 1);
  }
  return r.stdout;
}

gateAgent(['events', 'add', 'demo', '--name', 'Demo event']);
gateAgent(['enroll', '--event', 'demo', '--user', 'obama', '--name', 'Barack Obama', join(SHARED_FACES, 'people/obama/2.jpg')]);
const walkUp = join(data, 'walk-up.mp4');
const stranger = join(data, 'stranger.mp4');
await makeClip('walk-up', [standardPhotos.enrolled], walkUp);
await makeClip('stranger', [standardPhotos.stranger], stranger);
const results = [walkUp, stranger].map((clip) => JSON.parse(gateAgent(['run', '--event', 'demo', '--camera-path', clip, '--once']).trim()) as { pulses: number; decisions: Record<string, number> });
process.stdout.write(`\nenrolled attendee walking up: ${results[0]!.pulses} relay pulse(s); stranger: ${results[1]!.pulses} pulse(s), decisions ${JSON.stringify(results[1]!.decisions)}\n`);
if (results[0]!.pulses !== 1 || results[1]!.pulses !== 0) process.exit(1);
