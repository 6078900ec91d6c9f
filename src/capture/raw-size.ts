// The exact size of raw frames: the source's picture fitted inside widthPx x heightPx
// keeping its aspect ratio (no bars: a portrait phone video stays portrait, as on the
// MJPEG path). ffmpeg must be told the size, because the reader counts bytes to cut
// frames, so the source is probed first (ffprobe; it honours a rotation tag as ffmpeg does).
import { execFile } from 'node:child_process';
import type { RawFrameSize } from './types.js';

/** Fit w x h inside the box keeping the aspect ratio, even sides (what yuv sources need). */
export function fitInside(w: number, h: number, box: RawFrameSize): RawFrameSize {
  const s = Math.min(box.widthPx / w, box.heightPx / h);
  const even = (x: number, max: number) => Math.max(2, Math.min(max - (max % 2), 2 * Math.round((x * s) / 2)));
  return { widthPx: even(w, box.widthPx), heightPx: even(h, box.heightPx) };
}

/** The displayed size of the first video stream (rotation applied); null with the reason when it cannot be probed. */
export function probeDisplaySize(ffprobePath: string, input: string[], timeoutMs: number): Promise<{ width: number; height: number } | { error: string }> {
  return new Promise((resolve) => {
    execFile(
      ffprobePath,
      ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height:stream_tags=rotate:stream_side_data=rotation', '-of', 'json', ...input],
      { timeout: timeoutMs },
      (err, stdout, stderr) => {
        if (err) return resolve({ error: stderr.trim().split('\n').pop() || err.message });
        try {
          const s = (JSON.parse(stdout) as { streams?: { width?: number; height?: number; tags?: { rotate?: string }; side_data_list?: { rotation?: number }[] }[] }).streams?.[0];
          if (!s?.width || !s.height) return resolve({ error: 'no video stream with a size in it' });
          const rot = Number(s.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? s.tags?.rotate ?? 0);
          const quarter = Math.abs(rot) % 180 === 90;
          resolve(quarter ? { width: s.height, height: s.width } : { width: s.width, height: s.height });
        } catch {
          resolve({ error: 'ffprobe gave no readable answer' });
        }
      },
    );
  });
}
