// Decoding with sharp into packed RGB: EXIF orientation applied, alpha dropped,
// grey and CMYK converted to sRGB; decompression bombs refused from the header.
import sharp, { type Metadata } from 'sharp';
import { readFile } from 'node:fs/promises';
import type { RgbImage } from './types.js';
import { errorText } from '../errors.js';

export type ImageErrorCode =
  | 'not_found'
  | 'unreadable'
  | 'empty'
  | 'not_image'
  | 'unsupported_format'
  | 'animated'
  | 'too_large'
  | 'truncated'
  | 'too_slow';

/** A bad input image; `message` says what is wrong and what to do. */
export class ImageError extends Error {
  constructor(
    readonly code: ImageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}

export const SUPPORTED_FORMATS = ['jpeg', 'png', 'webp'] as const;

export interface DecodeOptions {
  /** Largest width*height accepted; larger images are refused before decoding. */
  maxPixels: number;
  /** Downscale (keeping the aspect ratio) so neither side exceeds this; absent = full size. */
  maxSidePx?: number;
}

export async function readImageFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageError('not_found', 'file does not exist; check the path');
    if (code === 'EISDIR') throw new ImageError('unreadable', 'is a directory, not an image file');
    if (code === 'EACCES') throw new ImageError('unreadable', 'permission denied; check the file permissions');
    throw new ImageError('unreadable', `cannot read file (${code ?? String(err)})`);
  }
}

export async function decodeImage(input: Buffer, opts: DecodeOptions): Promise<RgbImage> {
  if (input.length === 0) throw new ImageError('empty', 'file is empty (0 bytes); capture or copy the image again');
  let meta: Metadata;
  try {
    // limitInputPixels: false here because the limit is checked on the header below,
    // with a clearer message than libvips gives.
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch {
    throw new ImageError('not_image', 'not an image sharp can read; send a JPEG, PNG or WebP file');
  }
  const format = meta.format ?? 'unknown';
  if (!(SUPPORTED_FORMATS as readonly string[]).includes(format)) {
    throw new ImageError('unsupported_format', `unsupported image format "${format}"; send a JPEG, PNG or WebP file`);
  }
  if ((meta.pages ?? 1) > 1) {
    throw new ImageError('animated', `animated or multi-page ${format} (${meta.pages} frames); send a single still image`);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w <= 0 || h <= 0) throw new ImageError('not_image', 'image header has no size; the file is damaged');
  if (w * h > opts.maxPixels) {
    throw new ImageError(
      'too_large',
      `image is ${w}x${h} (${w * h} pixels), over the limit of ${opts.maxPixels}; send a smaller image or raise vision.maxImagePixels`,
    );
  }
  try {
    let pipeline = sharp(input, { limitInputPixels: opts.maxPixels, failOn: 'truncated' }).rotate();
    if (opts.maxSidePx !== undefined) {
      pipeline = pipeline.resize({ width: opts.maxSidePx, height: opts.maxSidePx, fit: 'inside', withoutEnlargement: true });
    }
    const { data, info } = await pipeline
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { data: toRgb(data, info.channels), width: info.width, height: info.height };
  } catch (err) {
    const msg = errorText(err);
    if (/truncat|premature|end of (file|data)|corrupt|invalid/i.test(msg)) {
      throw new ImageError('truncated', 'image data is truncated or corrupt; capture or copy the image again');
    }
    throw new ImageError('not_image', `cannot decode image (${msg.split('\n')[0]}); send a valid JPEG, PNG or WebP file`);
  }
}

function toRgb(data: Buffer, channels: number): Uint8Array {
  if (channels === 3) return new Uint8Array(data.buffer, data.byteOffset, data.length);
  const n = data.length / channels;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const v = data[i * channels]!;
    out[i * 3] = v;
    out[i * 3 + 1] = channels >= 3 ? data[i * channels + 1]! : v;
    out[i * 3 + 2] = channels >= 3 ? data[i * channels + 2]! : v;
  }
  return out;
}
