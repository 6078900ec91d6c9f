import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHARED_FACES } from '../paths.js';
import { jsonLines, runCli } from './run.js';

let dir: string;
before(async () => { dir = await mkdtemp(join(tmpdir(), 'cli-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

const two = join(SHARED_FACES, 'people/groups/two_people.jpg');
const obama1 = join(SHARED_FACES, 'people/obama/1.jpg');
const obama2 = join(SHARED_FACES, 'people/obama/2.jpg');
const biden = join(SHARED_FACES, 'people/biden/1.jpg');

test('detect --json prints one line per image with boxes, scores and 5 landmarks, largest first', async () => {
  const r = await runCli(['detect', '--json', two, join(SHARED_FACES, 'white.png')]);
  assert.equal(r.code, 0, r.stderr);
  const [a, b] = jsonLines(r.stdout) as { image: string; width: number; height: number; faces: { box: number[]; score: number; landmarks: number[][]; embedding?: unknown }[] }[];
  assert.equal(a!.image, two);
  assert.deepEqual([a!.width, a!.height], [1126, 661]);
  assert.equal(a!.faces.length, 2);
  for (const f of a!.faces) {
    assert.equal(f.box.length, 4);
    assert.equal(f.landmarks.length, 5);
    assert.ok(f.score >= 0.5 && f.score <= 1);
    assert.equal(f.embedding, undefined);
  }
  const area = (f: { box: number[] }) => (f.box[2]! - f.box[0]!) * (f.box[3]! - f.box[1]!);
  assert.ok(area(a!.faces[0]!) >= area(a!.faces[1]!));
  assert.deepEqual(b!.faces, []);
});

test('embed --json adds a 512-float embedding per face', async () => {
  const r = await runCli(['embed', '--json', obama1]);
  assert.equal(r.code, 0, r.stderr);
  const [line] = jsonLines(r.stdout) as { faces: { embedding: number[] }[] }[];
  assert.equal(line!.faces[0]!.embedding.length, 512);
});

test('compare --json: same person matches, different people do not', async () => {
  const same = jsonLines((await runCli(['compare', '--json', obama1, obama2])).stdout)[0] as { similarity: number; match: boolean; threshold: number };
  assert.equal(same.match, true);
  assert.ok(same.similarity > same.threshold);
  const diff = jsonLines((await runCli(['compare', '--json', obama1, biden])).stdout)[0] as { similarity: number; match: boolean };
  assert.equal(diff.match, false);
  const human = await runCli(['compare', obama1, obama2]);
  assert.match(human.stdout, /similarity 0\.\d+ \(threshold 0\.34\): same person/);
});

test('bad files: one clear line each naming the file, non-zero exit, the good images still processed', async () => {
  const empty = join(dir, 'empty.jpg');
  const text = join(dir, 'notes.jpg');
  await writeFile(empty, '');
  await writeFile(text, 'hello, not a picture');
  const missing = join(dir, 'missing.jpg');
  const r = await runCli(['detect', '--json', empty, obama1, text, missing]);
  assert.equal(r.code, 1);
  // After the line naming the config in use.
  const errLines = r.stderr.trim().split('\n').filter((l) => !/^gate-agent: (no config file|config )/.test(l));
  assert.equal(errLines.length, 3, r.stderr);
  assert.match(errLines[0]!, new RegExp(`${empty}: file is empty`));
  assert.match(errLines[1]!, new RegExp(`${text}: not an image`));
  assert.match(errLines[2]!, new RegExp(`${missing}: file does not exist`));
  const lines = jsonLines(r.stdout);
  assert.equal(lines.length, 4);
  assert.equal((lines[1] as { faces: unknown[] }).faces.length, 1, 'the good image in the middle was processed');
  assert.equal((lines[0] as { error: { code: string } }).error.code, 'empty');
});

test('a missing or damaged model file is named with its expected SHA-256 and how to get it', async () => {
  await writeFile(join(dir, 'scrfd_500m_kps.onnx'), 'not a model');
  const r = await runCli(['detect', obama1], { GATE_AGENT_MODELS_DIR: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /scrfd_500m_kps\.onnx has SHA-256 [0-9a-f]{64}, expected 5e4447f5.*models pull/);
  const r2 = await runCli(['detect', obama1], { GATE_AGENT_MODELS_DIR: join(dir, 'nowhere') });
  assert.match(r2.stderr, /model file .*scrfd_500m_kps\.onnx is missing .*expected SHA-256 5e4447f5.*models pull/);
});
