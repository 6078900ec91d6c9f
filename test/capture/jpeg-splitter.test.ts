import './quiet-logs.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { JpegSplitter, looksLikeJpeg } from '../../src/capture/index.js';
import { SHARED_FACES } from '../paths.js';

// Real camera JPEGs: obama/1.jpg carries Exif thumbnails (FFD8..FFD9 inside APP1), the
// case that breaks a splitter which just looks for the next FFD9.
const photos = ['people/obama/1.jpg', 'people/kit_harington/2.jpg', 'people/biden/1.jpg', 'people/obama/4.jpg'].map((p) => readFileSync(join(SHARED_FACES, p)));

function split(stream: Buffer, chunkSizes: (i: number) => number, maxFrameBytes?: number): { frames: Buffer[]; splitter: JpegSplitter } {
  const splitter = new JpegSplitter(maxFrameBytes);
  const frames: Buffer[] = [];
  for (let at = 0, i = 0; at < stream.length; i++) {
    const n = chunkSizes(i);
    frames.push(...splitter.push(stream.subarray(at, at + n)));
    at += n;
  }
  return { frames, splitter };
}

void test('the first test photo has an embedded EOI before its real end (so the test can fail)', () => {
  const first = photos[0] as Buffer;
  assert.ok(first.indexOf(Buffer.from([0xff, 0xd9])) < first.length - 2);
});

void test('splits concatenated JPEGs back into the originals at any chunk size', () => {
  const stream = Buffer.concat(photos);
  let seed = 7;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 9000 + 1;
  for (const [name, sizes] of [['1 byte', () => 1], ['7 bytes', () => 7], ['64 KiB', () => 65536], ['random', random]] as const) {
    const { frames, splitter } = split(stream, sizes);
    assert.equal(frames.length, photos.length, name);
    frames.forEach((f, i) => assert.ok(f.equals(photos[i] as Buffer), `${name}: frame ${i}`));
    assert.deepEqual(splitter.stats(), { discardedBytes: 0, corruptFrames: 0 });
  }
});

void test('skips noise between frames and a truncated frame, and the rest still decode', async () => {
  const a = photos[3] as Buffer;
  const truncated = a.subarray(0, 5000);
  const stream = Buffer.concat([Buffer.from('noise'), Buffer.from([0xff, 0x00]), a, Buffer.from([0xff, 0xff, 0x12]), truncated, a]);
  const { frames, splitter } = split(stream, () => 1000);
  assert.equal(frames.length, 2);
  for (const f of frames) {
    assert.ok(looksLikeJpeg(f));
    const meta = await sharp(f).metadata();
    assert.deepEqual([meta.width, meta.height], [1480, 832]);
  }
  assert.equal(splitter.stats().corruptFrames, 1);
  assert.ok(splitter.stats().discardedBytes >= truncated.length);
});

void test('a frame larger than maxFrameBytes is dropped and the stream resynchronises', () => {
  const big = photos[0] as Buffer;
  const small = photos[1] as Buffer;
  const { frames, splitter } = split(Buffer.concat([big, small]), () => 4096, small.length + 10_000);
  assert.equal(frames.length, 1);
  assert.ok((frames[0] as Buffer).equals(small));
  assert.equal(splitter.stats().corruptFrames, 1);
});

void test('reset drops a partial frame (a restarted ffmpeg starts a fresh stream)', () => {
  const s = new JpegSplitter();
  const p = photos[3] as Buffer;
  assert.equal(s.push(p.subarray(0, 3000)).length, 0);
  s.reset();
  const out = s.push(p);
  assert.equal(out.length, 1);
  assert.ok((out[0] as Buffer).equals(p));
});

void test('looksLikeJpeg', () => {
  assert.ok(looksLikeJpeg(photos[1] as Buffer));
  assert.ok(!looksLikeJpeg((photos[1] as Buffer).subarray(0, 100)));
  assert.ok(!looksLikeJpeg(Buffer.from('hello world')));
});
