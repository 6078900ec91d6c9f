// npm run demo: the daemon on this machine without camera, GPIO, broker or ffmpeg. It adds
// an event, enrolls one attendee from a shared photo, makes two folders of camera frames
// with sharp (that attendee walking up to the gate, and a stranger), and replays each
// through `gate-agent run --once`: the real commands, printed as they run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeWalkUpFrames } from './walk-up-frames.js';

// Compiled to dist/scripts/, so the project root is two levels up.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'gate-agent.js');
const SHARED = process.env.GATE_AGENT_SHARED ?? resolve(ROOT, '..', 'shared');
const photos = { attendee: join(SHARED, 'faces/people/obama/2.jpg'), walkUp: join(SHARED, 'faces/people/obama/1.jpg'), stranger: join(SHARED, 'faces/people/biden/2.jpg') };

function stop(message: string): never {
  process.stderr.write(`demo: ${message}\n`);
  process.exit(1);
}

for (const p of Object.values(photos)) {
  if (!existsSync(p)) stop(`${p} is missing; the demo uses the shared development photos: put shared/ next to this clone or set GATE_AGENT_SHARED to its path`);
}

const data = resolve(ROOT, 'data', 'demo');
rmSync(data, { recursive: true, force: true });
mkdirSync(data, { recursive: true });
const env = { ...process.env, GATE_AGENT_DATA_DIR: data, GATE_AGENT_LOG_LEVEL: process.env.GATE_AGENT_LOG_LEVEL ?? 'warn' };

/** Runs gate-agent as a technician would, printing the command; any failure ends the demo with one line. */
function gateAgent(args: string[]): string {
  process.stdout.write(`$ gate-agent ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || '').trim().split('\n').filter(Boolean).pop() ?? `exit ${r.status}`;
    stop(`gate-agent ${args[0]} failed: ${why}`);
  }
  return r.stdout;
}

interface Summary { frames: number; pulses: number; decisions: Record<string, number> }
const replay = (dir: string): Summary => JSON.parse(gateAgent(['run', '--event', 'demo', '--camera-path', dir, '--once']).trim().split('\n').pop()!) as Summary;
const said = (s: Summary): string => `${s.frames} frames, ${s.pulses} relay pulse(s), decisions ${Object.entries(s.decisions).map(([k, v]) => `${k} x${v}`).join(', ') || 'none'}`;

gateAgent(['events', 'add', 'demo', '--name', 'Demo event']);
gateAgent(['enroll', '--event', 'demo', '--user', 'obama', '--name', 'Barack Obama', photos.attendee]);
const walkUpDir = join(data, 'walk-up');
const strangerDir = join(data, 'stranger');
await writeWalkUpFrames(photos.walkUp, walkUpDir);
await writeWalkUpFrames(photos.stranger, strangerDir);
process.stdout.write(`(frames of the attendee walking up in ${walkUpDir}, of a stranger in ${strangerDir})\n`);
const attendee = replay(walkUpDir);
const stranger = replay(strangerDir);

const ok = attendee.pulses === 1 && attendee.decisions.granted === 1 && stranger.pulses === 0;
process.stdout.write(
  [
    '',
    `Enrolled attendee walking up: ${said(attendee)}`,
    `Stranger walking up:          ${said(stranger)}`,
    ok
      ? 'The gate opened once for the attendee and stayed shut for the stranger (simulated relay, results kept in the local outbox).'
      : 'demo: FAILED: the attendee must get exactly one pulse and the stranger none.',
    '',
  ].join('\n'),
);
if (!ok) process.exit(1);
