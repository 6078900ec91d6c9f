// The door never waits for the API: the daemon with api.enabled replays a folder of
// frames of an enrolled attendee while scan bombs and PNG bombs are in flight on
// POST /identity, and the attendee is still let in. Real models, real sharp, real HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { pngBomb, scanBomb } from '../../scripts/hostile-images.js';
import { BIN, SHARED_FACES, SHARED_MODELS } from '../paths.js';
import { own, until } from '../proc.js';
import { enrolledDataDir } from './enrolled.js';

let dir: string;
let template: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'daemon-hostile-'));
  template = join(dir, 'template');
  await enrolledDataDir(template, ['obama']);
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

async function frame(photo: string): Promise<Buffer> {
  return sharp(await readFile(photo)).resize(640, 480, { fit: 'contain', background: '#fff' }).jpeg().toBuffer();
}

test('scan bombs and PNG bombs in flight on the API: the replayed attendee is still let in', async (t) => {
  const data = join(dir, 'data');
  await cp(template, data, { recursive: true });
  const frames = join(dir, 'frames');
  const bombs = join(dir, 'bombs');
  await mkdir(frames);
  await mkdir(bombs);
  // The scene is empty until the attack is under way; then the attendee walks in.
  await writeFile(join(frames, 'a0.jpg'), await frame(join(SHARED_FACES, 'white.png')));
  await writeFile(join(bombs, 'scan.jpg'), scanBomb(4000));
  await writeFile(join(bombs, 'png.png'), await pngBomb(6300));
  const env = {
    ...process.env,
    GATE_AGENT_MODELS_DIR: SHARED_MODELS,
    GATE_AGENT_DATA_DIR: data,
    GATE_AGENT_LOG_LEVEL: 'info',
    GATE_AGENT__relay__driver: '"sim"',
    GATE_AGENT__camera__kind: '"replay"',
    GATE_AGENT__camera__loop: 'true',
    GATE_AGENT__camera__fps: '10',
    GATE_AGENT__api__enabled: 'true',
    GATE_AGENT__api__host: '"127.0.0.1"',
    GATE_AGENT__api__port: '0',
    GATE_AGENT__api__snapshotDir: JSON.stringify(bombs),
    GATE_AGENT__api__decodeTimeoutMs: '2000',
    // Limits up, so that the bombs reach the decoders rather than the rate limiter.
    GATE_AGENT__api__rateLimitPerKeyBurst: '100000',
    GATE_AGENT__api__rateLimitPerIpBurst: '100000',
    GATE_AGENT__api__rateLimitTotalBurst: '100000',
  };
  const key = (JSON.parse(execFileSync(process.execPath, [BIN, 'keys', 'create', '--name', 'attacker', '--json'], { env, encoding: 'utf8' })) as { key: string }).key;
  const child = own(spawn(process.execPath, [BIN, 'run', '--event', 'gala', '--camera-path', frames], { env, stdio: ['ignore', 'pipe', 'pipe'] }), t);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await until('the identity endpoint address', () => /identity endpoint on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr)?.[1], 60_000);
  const base = `http://127.0.0.1:${port}`;
  const statuses: number[] = [];
  let attacking = true;
  const bomb = async (name: string): Promise<void> => {
    while (attacking) {
      const url = `${base}/identity?event_id=gala&image_url=${encodeURIComponent(pathToFileURL(join(bombs, name)).href)}`;
      const r = await fetch(url, { method: 'POST', headers: { 'x-api-key': key } }).catch(() => null);
      statuses.push(r?.status ?? 0);
      await r?.arrayBuffer();
    }
  };
  const attack = Promise.all([...Array.from({ length: 4 }, () => bomb('scan.jpg')), ...Array.from({ length: 20 }, () => bomb('png.png'))]);
  try {
    await until('bombs decoding', async () => {
      const m = await (await fetch(`${base}/metrics`)).text();
      return /api_recognitions_in_flight [1-9]/.test(m) ? true : undefined;
    }, 20_000);
    const before = statuses.length;
    for (let i = 1; i <= 12; i++) await writeFile(join(frames, `b${i}.jpg`), await frame(join(SHARED_FACES, 'people/obama/1.jpg')));
    // Generous: the replay plays the folder again within about a second, and a grant takes two matched frames.
    await until('the attendee to be let in', () => (/granted: obama/.test(stderr) ? true : undefined), 30_000);
    assert.ok(statuses.length > before || attacking, 'the attack was still running');
    // Bombs were decoding when the door opened: the grant did not wait for them.
    const inFlight = Number(/^api_recognitions_in_flight (\d+)$/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1]);
    assert.ok(inFlight >= 1, `recognitions in flight at the grant: ${inFlight}`);
    const health = await fetch(`${base}/healthz`);
    assert.ok([200, 503].includes(health.status));
  } finally {
    attacking = false;
    await attack;
    // A clean stop, so its decode workers end with it.
    const exited = new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));
    child.kill('SIGTERM');
    await exited;
  }
  // Every bomb got a clean answer: stopped at its CPU deadline (415), turned away by the
  // queue (503), or decoded and judged. (How many reach their CPU deadline depends on the
  // CPU the gate leaves the niced workers; on a busy machine, none within the test.)
  assert.ok(statuses.every((s) => [200, 404, 415, 422, 503].includes(s)), JSON.stringify(statuses));
});
