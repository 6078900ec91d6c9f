// Builds the demo and test clips from the shared photos with ffmpeg: a person walking up
// to the gate (the photo grows from small to full over the clip), a stranger doing the
// same, an empty scene, and two people side by side. bench:gate and the daemon's end-to-end
// tests use makeClip; run `node dist/scripts/clips.js OUTDIR` to build the standard set.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SHARED_FACES } from './paths.js';
import { errorText } from '../src/errors.js';

/** walk-up and stranger animate the same way: the photo decides who it is. */
export type ClipKind = 'walk-up' | 'stranger' | 'empty' | 'pair';

export interface ClipOptions {
  durationS?: number;
  fps?: number;
  widthPx?: number;
  heightPx?: number;
  /** walk-up/stranger: the photo's size in the first frame relative to the last (0..1). */
  startScale?: number;
  ffmpegPath?: string;
}

export const clipDefaults = { durationS: 2, fps: 15, widthPx: 640, heightPx: 480, startScale: 0.25 } as const;

/** The photos the standard set uses: obama is "enrolled", biden the stranger; portraits, so faces are large. */
export const standardPhotos = {
  enrolled: join(SHARED_FACES, 'people', 'obama', '1.jpg'),
  stranger: join(SHARED_FACES, 'people', 'biden', '2.jpg'),
  pair: [join(SHARED_FACES, 'people', 'kit_harington', '3.jpg'), join(SHARED_FACES, 'people', 'rose_leslie', '2.jpg')],
  empty: join(SHARED_FACES, 'white.png'),
} as const;

/** Encoder arguments by file extension; .mjpeg is a bare JPEG stream, as ffmpeg -f mjpeg. */
function encoderArgs(outPath: string): string[] {
  switch (extname(outPath).toLowerCase()) {
    case '.mp4':
      return ['-c:v', 'mpeg4', '-q:v', '3', '-pix_fmt', 'yuv420p'];
    case '.avi':
    case '.mkv':
      return ['-c:v', 'mjpeg', '-q:v', '3', '-pix_fmt', 'yuvj420p'];
    case '.mjpeg':
    case '.mjpg':
      return ['-c:v', 'mjpeg', '-q:v', '3', '-pix_fmt', 'yuvj420p', '-f', 'mjpeg'];
    default:
      throw new Error(`makeClip: ${outPath}: unknown extension; use .mp4, .avi, .mkv or .mjpeg`);
  }
}

/** Fit inside w x h, centred on black: the camera's frame around a photo of any shape. */
function fit(w: number, h: number): string {
  return `scale=${w}:${h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:black,setsar=1`;
}

export async function makeClip(kind: ClipKind, photos: readonly string[], outPath: string, opts: ClipOptions = {}): Promise<void> {
  const { durationS, fps, widthPx: w, heightPx: h, startScale } = { ...clipDefaults, ...opts };
  const frames = Math.max(1, Math.round(durationS * fps));
  const still = (photo: string): string[] => ['-loop', '1', '-framerate', String(fps), '-t', String(durationS), '-i', photo];
  const need = (n: number): void => {
    if (photos.length < n) throw new Error(`makeClip: ${kind} needs ${n} photo(s), got ${photos.length}`);
  };
  let inputs: string[];
  let filter: string;
  switch (kind) {
    case 'walk-up':
    case 'stranger': {
      need(1);
      // Shrink by padding onto a canvas 1/startScale times larger, then zoompan from the
      // whole canvas (photo small) to the photo alone (full size): a face coming closer.
      const k = 1 / startScale;
      inputs = still(photos[0] as string);
      filter =
        `[0:v]${fit(w, h)},pad=iw*${k}:ih*${k}:(ow-iw)/2:(oh-ih)/2:black,` +
        `zoompan=z='1+${k - 1}*on/${Math.max(1, frames - 1)}':d=1:x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':s=${w}x${h}:fps=${fps}[v]`;
      break;
    }
    case 'pair': {
      need(2);
      const half = Math.floor(w / 4) * 2; // even widths keep yuv420p happy
      inputs = [...still(photos[0] as string), ...still(photos[1] as string)];
      filter = `[0:v]${fit(half, h)}[l];[1:v]${fit(w - half, h)}[r];[l][r]hstack=inputs=2[v]`;
      break;
    }
    case 'empty':
      // An optional photo (e.g. white.png) stands for the empty entrance; else dark grey.
      inputs = photos[0] ? still(photos[0]) : ['-f', 'lavfi', '-i', `color=c=0x202020:s=${w}x${h}:r=${fps}:d=${durationS}`];
      filter = `[0:v]${fit(w, h)}[v]`;
      break;
  }
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...inputs, '-filter_complex', filter, '-map', '[v]', '-r', String(fps), '-frames:v', String(frames), ...encoderArgs(outPath), outPath];
  await new Promise<void>((res, rej) => {
    execFile(opts.ffmpegPath ?? 'ffmpeg', args, { timeout: 60_000 }, (err, _out, stderr) => (err ? rej(new Error(`makeClip ${kind}: ffmpeg failed: ${stderr.trim() || err.message}`)) : res()));
  });
}

/**
 * One clip of `parts` played one after another (each made by makeClip in `dir`, then joined
 * by ffmpeg's concat demuxer without re-encoding): a scene for a looping replay.
 */
export async function makeSceneClip(dir: string, parts: readonly (readonly [ClipKind, readonly string[]])[], outPath: string, opts: ClipOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const [i, [kind, photos]] of parts.entries()) {
    const f = join(dir, `part-${i}.mp4`);
    await makeClip(kind, photos, f, opts);
    files.push(f);
  }
  const list = join(dir, 'parts.txt');
  await writeFile(list, files.map((f) => `file '${f}'\n`).join(''));
  await new Promise<void>((res, rej) =>
    execFile('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-f', 'concat', '-safe', '0', '-i', list, '-c', 'copy', outPath], (err) => (err ? rej(err) : res())),
  );
  return outPath;
}

/** The standard demo set in `dir`: walk-up.mp4, stranger.mp4, empty.mp4, pair.mp4. */
export async function makeStandardClips(dir: string, opts: ClipOptions = {}): Promise<Record<ClipKind, string>> {
  await mkdir(dir, { recursive: true });
  const out = { 'walk-up': join(dir, 'walk-up.mp4'), stranger: join(dir, 'stranger.mp4'), empty: join(dir, 'empty.mp4'), pair: join(dir, 'pair.mp4') };
  await makeClip('walk-up', [standardPhotos.enrolled], out['walk-up'], opts);
  await makeClip('stranger', [standardPhotos.stranger], out.stranger, opts);
  await makeClip('empty', [], out.empty, opts);
  await makeClip('pair', standardPhotos.pair, out.pair, opts);
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node dist/scripts/clips.js OUTDIR');
    process.exit(2);
  }
  makeStandardClips(dir).then(
    (paths) => console.log(JSON.stringify(paths, null, 2)),
    (err: unknown) => {
      console.error(errorText(err));
      process.exit(1);
    },
  );
}
