import './quiet-logs.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { JpegSplitter } from '../../src/capture/index.js';
import { makeClip, standardPhotos } from './clips.js';
import { withTempDir } from './helpers.js';

/** Share of pixels that are not (near) black: how much of the frame the photo covers. */
async function coverage(jpeg: Buffer, region?: { left: number; top: number; width: number; height: number }): Promise<number> {
  const img = region ? sharp(jpeg).extract(region) : sharp(jpeg);
  const { data, info } = await img.greyscale().raw().toBuffer({ resolveWithObject: true });
  let lit = 0;
  for (const v of data) if (v > 24) lit++;
  return lit / (info.width * info.height);
}

async function frames(path: string): Promise<Buffer[]> {
  return new JpegSplitter().push(await readFile(path));
}

void test('makeClip builds walk-up, pair and empty clips that look like what they claim', { timeout: 20_000 }, async () => {
  await withTempDir(async (dir) => {
    const walk = join(dir, 'walk.mjpeg');
    await makeClip('walk-up', [standardPhotos.enrolled], walk, { durationS: 1, fps: 10 });
    const w = await frames(walk);
    assert.equal(w.length, 10);
    const meta = await sharp(w[0]).metadata();
    assert.deepEqual([meta.width, meta.height], [640, 480]);
    const first = await coverage(w[0] as Buffer);
    const last = await coverage(w[9] as Buffer);
    assert.ok(first < 0.1 && last > 0.5 && last > first * 8, `the person grows: ${first.toFixed(3)} -> ${last.toFixed(3)}`);

    const pair = join(dir, 'pair.mjpeg');
    await makeClip('pair', standardPhotos.pair, pair, { durationS: 0.5, fps: 10 });
    const p = (await frames(pair))[0] as Buffer;
    assert.ok((await coverage(p, { left: 0, top: 0, width: 320, height: 480 })) > 0.5, 'someone on the left');
    assert.ok((await coverage(p, { left: 320, top: 0, width: 320, height: 480 })) > 0.5, 'someone on the right');

    const empty = join(dir, 'empty.mp4');
    await makeClip('empty', [], empty, { durationS: 0.5, fps: 10 });
    const probe = await new Promise<string>((res, rej) =>
      execFile('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'csv=p=0', empty], (e, out) => (e ? rej(e) : res(out.trim()))),
    );
    assert.equal(probe, 'mpeg4,640,480,5');

    await assert.rejects(makeClip('pair', [standardPhotos.enrolled], join(dir, 'x.mp4')), /pair needs 2 photo\(s\), got 1/);
    await assert.rejects(makeClip('empty', [], join(dir, 'x.gif')), /unknown extension/);
  });
});
