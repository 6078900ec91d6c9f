// Replay of a directory of still images, in name order at a fixed rate: the simplest
// demo input, and a way to feed exact pictures to the pipeline. JPEGs pass through as
// they are; PNGs are re-encoded once each, since every frame must be a JPEG.
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import type { Clock } from './types.js';
import type { CaptureSession, SessionEnd, SessionSink } from './supervisor.js';
import { errorText } from '../errors.js';

const JPEG_EXT = new Set(['.jpg', '.jpeg']);
const IMAGE_EXT = new Set([...JPEG_EXT, '.png']);

// Numeric collation: frame2.jpg plays before frame10.jpg, as a person would expect.
const byName = new Intl.Collator('en', { numeric: true }).compare;

/** The images in `dir` in playing order (full paths). */
export async function listImages(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && IMAGE_EXT.has(extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort(byName)
    .map((name) => join(dir, name));
}

export async function readAsJpeg(path: string): Promise<Buffer> {
  const data = await readFile(path);
  if (JPEG_EXT.has(extname(path).toLowerCase())) return data;
  return sharp(data).jpeg({ quality: 90 }).toBuffer();
}

export interface ImageDirSessionOptions {
  dir: string;
  fps: number;
  loop: boolean;
  clock: Clock;
}

/**
 * Reads one image per tick. The directory is listed again at every (re)start and at the
 * start of every loop, so images added while the daemon runs play from the next loop on.
 */
export async function openImageDirSession(o: ImageDirSessionOptions, sink: SessionSink): Promise<CaptureSession> {
  let files = await listImages(o.dir);
  if (files.length === 0) throw new Error(`no .jpg/.jpeg/.png images in ${o.dir}`);
  const intervalMs = 1000 / o.fps;
  let timer: unknown = null;
  let closed = false;
  let index = 0;
  let resolveDone!: (end: SessionEnd) => void;
  const done = new Promise<SessionEnd>((r) => (resolveDone = r));
  let inFlight: Promise<void> = Promise.resolve();

  const tick = async (): Promise<void> => {
    timer = null;
    const file = files[index];
    if (file === undefined) return;
    const startedMs = o.clock.now();
    let jpeg: Buffer;
    try {
      jpeg = await readAsJpeg(file);
    } catch (err) {
      if (!closed) resolveDone({ kind: 'failed', reason: `cannot read ${file}: ${errorText(err)}` });
      return;
    }
    if (closed) return;
    sink.frame(jpeg); // the supervisor's frame handler does not throw
    index++;
    if (index >= files.length) {
      if (!o.loop) return resolveDone({ kind: 'ended' });
      index = 0;
      // Each loop plays the folder as it is now: images added or removed meanwhile count.
      try {
        files = await listImages(o.dir);
      } catch (err) {
        if (!closed) resolveDone({ kind: 'failed', reason: `cannot list ${o.dir}: ${errorText(err)}` });
        return;
      }
      if (files.length === 0) {
        if (!closed) resolveDone({ kind: 'failed', reason: `no .jpg/.jpeg/.png images left in ${o.dir}` });
        return;
      }
    }
    // Subtract the read time so the rate holds even for large PNGs.
    const waitMs = Math.max(0, intervalMs - (o.clock.now() - startedMs));
    timer = o.clock.setTimeout(() => {
      inFlight = tick();
    }, waitMs);
  };
  inFlight = tick();

  return {
    done,
    pid: null,
    async close(): Promise<void> {
      closed = true;
      if (timer !== null) o.clock.clearTimeout(timer);
      await inFlight;
    },
  };
}
