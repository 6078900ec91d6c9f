// ffmpeg command lines for every ffmpeg-backed source, as pure functions so the exact
// arguments are unit-tested without a camera. All of them write a bare MJPEG stream
// (concatenated JPEGs) to stdout, which JpegSplitter cuts into frames.
import { defaults, type ReplaySourceOptions, type RtspSourceOptions, type V4l2SourceOptions } from './options.js';

// -nostdin: ffmpeg must never read the daemon's stdin (it would steal 'q' keypresses
// and block under systemd). Errors only: warnings flood journald at frame rate.
const HEAD = ['-hide_banner', '-nostdin', '-loglevel', 'error'];

function scaleFilter(widthPx: number | undefined, heightPx: number | undefined): string | null {
  if (widthPx === undefined || heightPx === undefined) return null;
  // Fit inside the box keeping the aspect ratio: a stretched face embeds worse.
  return `scale=w=${widthPx}:h=${heightPx}:force_original_aspect_ratio=decrease:force_divisible_by=2`;
}

function mjpegOut(filters: (string | null)[], qscale: number): string[] {
  const vf = filters.filter((f): f is string => f !== null).join(',');
  return ['-an', ...(vf ? ['-vf', vf] : []), '-c:v', 'mjpeg', '-q:v', String(qscale), '-f', 'mjpeg', 'pipe:1'];
}

export function v4l2Args(o: V4l2SourceOptions): string[] {
  const fmt = o.inputFormat ?? 'mjpeg';
  const w = o.widthPx ?? defaults.widthPx;
  const h = o.heightPx ?? defaults.heightPx;
  const input = [
    '-f', 'v4l2',
    ...(fmt === 'auto' ? [] : ['-input_format', fmt]),
    '-framerate', String(o.fps ?? defaults.fps),
    '-video_size', `${w}x${h}`,
    '-i', o.device,
  ];
  if (o.mjpegPassthrough) return [...HEAD, ...input, '-an', '-c:v', 'copy', '-f', 'mjpeg', 'pipe:1'];
  // The camera already delivers the asked size and rate; only re-encode.
  return [...HEAD, ...input, ...mjpegOut([], o.mjpegQscale ?? defaults.mjpegQscale)];
}

export function rtspArgs(o: RtspSourceOptions): string[] {
  const timeoutUs = Math.round((o.rtspTimeoutMs ?? defaults.rtspTimeoutMs) * 1000);
  return [
    ...HEAD,
    // TCP: UDP loses packets on busy venue Wi-Fi and smears frames.
    '-rtsp_transport', o.transport ?? 'tcp',
    // ffmpeg >= 5 names the socket I/O timeout -timeout (microseconds; was -stimeout).
    '-timeout', String(timeoutUs),
    // No input buffering: we want the newest picture, not a smooth one.
    '-fflags', 'nobuffer', '-flags', 'low_delay',
    '-i', o.url,
    ...mjpegOut([`fps=${o.fps ?? defaults.fps}`, scaleFilter(o.widthPx, o.heightPx)], o.mjpegQscale ?? defaults.mjpegQscale),
  ];
}

export function replayVideoArgs(o: ReplaySourceOptions): string[] {
  return [
    ...HEAD,
    ...(o.realtime ?? true ? ['-re'] : []),
    ...(o.loop ? ['-stream_loop', '-1'] : []),
    // file: stops a name with a colon being taken for a protocol.
    '-i', `file:${o.path}`,
    ...mjpegOut([o.fps === undefined ? null : `fps=${o.fps}`, scaleFilter(o.widthPx, o.heightPx)], o.mjpegQscale ?? defaults.mjpegQscale),
  ];
}
