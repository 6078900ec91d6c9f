// A camera frame as the RGB image the vision stage works on: raw frames are used as they
// are (no decode), JPEG frames are decoded by sharp.
import sharp from 'sharp';
import type { Frame } from '../capture/index.js';
import { decodeImage, ImageError } from '../vision/image.js';
import type { RgbImage } from '../vision/types.js';

export async function frameImage(frame: Frame, maxPixels: number): Promise<RgbImage> {
  if (!frame.raw) return decodeImage(frame.data, { maxPixels });
  const { widthPx: width, heightPx: height } = frame.raw;
  if (width * height > maxPixels) {
    throw new ImageError('too_large', `raw frame is ${width}x${height} (${width * height} pixels), over the limit of ${maxPixels}; lower camera.widthPx/heightPx or raise vision.maxImagePixels`);
  }
  if (frame.data.length !== width * height * 3) {
    throw new ImageError('truncated', `raw frame has ${frame.data.length} bytes, a ${width}x${height} RGB frame has ${width * height * 3}; the frame is skipped`);
  }
  return { data: new Uint8Array(frame.data.buffer, frame.data.byteOffset, frame.data.length), width, height };
}

/** The frame as a JPEG file would hold it: camera JPEGs as they came, raw frames encoded. */
export async function frameJpeg(frame: Frame): Promise<Buffer> {
  if (!frame.raw) return frame.data;
  return sharp(frame.data, { raw: { width: frame.raw.widthPx, height: frame.raw.heightPx, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

/** Width and height of a frame, without decoding a raw one. */
export async function frameSize(frame: Frame): Promise<{ width: number; height: number }> {
  if (frame.raw) return { width: frame.raw.widthPx, height: frame.raw.heightPx };
  const m = await sharp(frame.data).metadata();
  return { width: m.width ?? 0, height: m.height ?? 0 };
}
