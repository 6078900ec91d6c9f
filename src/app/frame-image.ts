// A camera frame as the RGB image the vision stage works on: raw frames are used as they
// are (no decode), JPEG frames are decoded by sharp.
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
