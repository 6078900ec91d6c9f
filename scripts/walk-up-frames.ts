// A person walking up to the gate, as a folder of JPEG frames made with sharp alone: the
// photo grows from small to full size in a camera-sized frame on black. The demo replays
// such folders through the daemon's image-folder source, so it needs no ffmpeg.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';

export interface WalkUpOptions {
  frames?: number;
  widthPx?: number;
  heightPx?: number;
  /** The photo's size in the first frame relative to the last (0..1). */
  startScale?: number;
}

/** Writes frame-001.jpg … into `dir` (created) and returns how many. */
export async function writeWalkUpFrames(photo: string, dir: string, opts: WalkUpOptions = {}): Promise<number> {
  const { frames = 24, widthPx: w = 640, heightPx: h = 480, startScale = 0.25 } = opts;
  await mkdir(dir, { recursive: true });
  // The photo fitted inside the frame once; each frame shows it scaled down from there.
  const fitted = await sharp(photo).rotate().resize({ width: w, height: h, fit: 'inside' }).toBuffer({ resolveWithObject: true });
  for (let i = 0; i < frames; i++) {
    const scale = startScale + ((1 - startScale) * i) / Math.max(1, frames - 1);
    const pw = Math.max(1, Math.round(fitted.info.width * scale));
    const ph = Math.max(1, Math.round(fitted.info.height * scale));
    const person = await sharp(fitted.data).resize(pw, ph).toBuffer();
    const frame = await sharp({ create: { width: w, height: h, channels: 3, background: '#000' } })
      .composite([{ input: person, left: Math.round((w - pw) / 2), top: Math.round((h - ph) / 2) }])
      .jpeg({ quality: 90 })
      .toBuffer();
    await writeFile(join(dir, `frame-${String(i + 1).padStart(3, '0')}.jpg`), frame);
  }
  return frames;
}
