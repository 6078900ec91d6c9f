// Two camera frames in flight on two inference workers, decided in capture order: the
// replayed camera alternates a group of six faces (six embeddings: long in the models) with
// an empty entrance (one detector run: short), so the empty frame taken after a group
// frame leaves the models first, for real. Its decision still waits for the group frame's:
// the daemon's debug log shows the frames analysed out of order and decided in order.
// Real daemon in a child process (test/app/vision-crash-probe.ts, never told to kill),
// real models, real ffmpeg-free image replay; the simulated relay (no GPIO here).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { SHARED_FACES, SHARED_MODELS } from '../paths.js';
import { own, until } from '../proc.js';
import { enrolledDataDir } from './enrolled.js';

let dir: string;
let data: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frame-order-'));
  data = join(dir, 'data');
  await enrolledDataDir(data, ['obama']);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const PROBE = new URL('./vision-crash-probe.js', import.meta.url);

interface LogLine {
  msg?: string;
  seq?: number;
  orderWaitMs?: number;
}

test('two workers: a later frame whose models finish first is decided after the frame before it', async (t) => {
  const frames = join(dir, 'frames');
  await mkdir(frames);
  await writeFile(join(frames, 'a-group.jpg'), await sharp(join(SHARED_FACES, 'bbt/group_bbt4.jpg')).resize(640, 480, { fit: 'contain', background: '#202020' }).jpeg().toBuffer());
  await writeFile(join(frames, 'b-empty.jpg'), await sharp({ create: { width: 640, height: 480, channels: 3, background: '#202020' } }).jpeg().toBuffer());
  const child = own(
    spawn(process.execPath, [PROBE.pathname], {
      env: {
        ...process.env,
        GATE_AGENT_MODELS_DIR: SHARED_MODELS,
        GATE_AGENT_DATA_DIR: data,
        GATE_AGENT_LOG_LEVEL: 'debug',
        GATE_AGENT__relay__driver: '"sim"',
        GATE_AGENT__camera__kind: '"replay"',
        GATE_AGENT__camera__path: JSON.stringify(frames),
        GATE_AGENT__camera__loop: 'true',
        GATE_AGENT__camera__fps: '20',
        GATE_AGENT__vision__inferenceWorkers: '2',
        GATE_AGENT__models__threads: '1',
        GATE_AGENT__daemon__maxFacesPerFrame: '6',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
    t,
  );
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  child.stdout!.resume();
  const entries = (msg: string): LogLine[] =>
    log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine)
      .filter((l) => l.msg === msg);
  const lines = (msg: string): number[] => entries(msg).map((l) => l.seq!);
  /** Frames analysed after a later frame was: their models finished last. */
  const overtaken = (): number => {
    const seen = lines('frame analyzed');
    return seen.filter((seq, i) => seen.slice(0, i).some((s) => s > seq)).length;
  };
  await until('frames analysed out of capture order', () => (overtaken() >= 3 && lines('frame decided').length >= 20 ? true : undefined), 120_000);
  const decided = lines('frame decided');
  assert.ok(decided.every((seq, i) => i === 0 || seq > decided[i - 1]!), `decided in capture order: ${decided.join(',')}`);
  assert.ok(entries('frame decided').some((l) => (l.orderWaitMs ?? 0) > 0), 'some frame waited for the one before it');
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
