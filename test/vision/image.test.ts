// Decoding: formats, orientation, colour spaces, and every kind of bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { join } from 'node:path';
import sharp from 'sharp';
import { decodeImage, ImageError, readImageFile } from '../../src/vision/image.js';
import { SHARED_FACES } from '../paths.js';

const LIMIT = { maxPixels: 40_000_000 };
const photo = join(SHARED_FACES, 'people/obama/4.jpg');

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** A valid PNG header claiming 30000x30000 pixels, with a tiny body: a decompression bomb's shape. */
function bombPng(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(30000, 0);
  ihdr.writeUInt32BE(30000, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(1000))), chunk('IEND', Buffer.alloc(0))]);
}

async function rejects(input: Buffer, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(decodeImage(input, LIMIT), (err: unknown) => {
    assert.ok(err instanceof ImageError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

test('JPEG, PNG and WebP decode to packed RGB', async () => {
  const src = await readImageFile(photo);
  for (const fmt of ['jpeg', 'png', 'webp'] as const) {
    const buf = await sharp(src).toFormat(fmt).toBuffer();
    const img = await decodeImage(buf, LIMIT);
    assert.equal(img.data.length, img.width * img.height * 3, fmt);
  }
});

test('EXIF orientation is applied', async () => {
  const src = await sharp(await readImageFile(photo)).resize(200, 100, { fit: 'fill' }).jpeg().toBuffer();
  const rotated = await sharp(src).withMetadata({ orientation: 6 }).jpeg().toBuffer();
  const img = await decodeImage(rotated, LIMIT);
  assert.deepEqual([img.width, img.height], [100, 200]);
});

test('grey, CMYK and alpha images become 3-channel RGB', async () => {
  const src = await readImageFile(photo);
  const grey = await decodeImage(await sharp(src).greyscale().png().toBuffer(), LIMIT);
  assert.equal(grey.data.length, grey.width * grey.height * 3);
  const i = (grey.width * 10 + 10) * 3;
  assert.ok(grey.data[i] === grey.data[i + 1] && grey.data[i + 1] === grey.data[i + 2]);
  const cmyk = await decodeImage(await sharp(src).toColourspace('cmyk').jpeg().toBuffer(), LIMIT);
  assert.equal(cmyk.data.length, cmyk.width * cmyk.height * 3);
  const rgba = await decodeImage(await readImageFile(join(SHARED_FACES, 'people/groups/32bit.png')), LIMIT);
  assert.equal(rgba.data.length, rgba.width * rgba.height * 3);
});

test('a 0-byte file is refused as empty', async () => {
  await rejects(Buffer.alloc(0), 'empty', /empty/);
});

test('a truncated JPEG is refused as truncated', async () => {
  const full = await readImageFile(photo);
  await rejects(full.subarray(0, Math.floor(full.length / 2)), 'truncated', /truncated|corrupt/);
});

test('a text file named .jpg is refused as not an image', async () => {
  await rejects(Buffer.from('this is not a picture\n'), 'not_image', /JPEG, PNG or WebP/);
});

test('a 30000x30000 PNG header is refused before decoding', async () => {
  await rejects(bombPng(), 'too_large', /30000x30000.*over the limit/);
});

test('an animated GIF is refused with the reason', async () => {
  const frame = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#f00' } }).png().toBuffer();
  const frame2 = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#00f' } }).png().toBuffer();
  const gif = await sharp([frame, frame2], { join: { animated: true } }).gif().toBuffer();
  assert.equal((await sharp(gif).metadata()).pages, 2);
  await rejects(gif, 'unsupported_format', /gif.*JPEG, PNG or WebP/);
  const animatedWebp = await sharp([frame, frame2], { join: { animated: true } }).webp().toBuffer();
  await rejects(animatedWebp, 'animated', /2 frames/);
});

test('a path that does not exist is refused by name', async () => {
  await assert.rejects(readImageFile('/nonexistent/photo.jpg'), (e: unknown) => e instanceof ImageError && e.code === 'not_found');
  await assert.rejects(readImageFile(SHARED_FACES), (e: unknown) => e instanceof ImageError && /directory/.test(e.message));
});
