// ffmpeg command lines for every ffmpeg-backed source, as pure functions so the exact
// arguments are unit-tested without a camera. They write a bare MJPEG stream (concatenated
// JPEGs, cut by JpegSplitter) or, with frameFormat raw, packed RGB frames of a fixed size
// (cut by RawFrameSplitter).
import { defaults, type FfmpegCommonOptions, type ReplaySourceOptions, type RtspSourceOptions, type V4l2SourceOptions } from './options.js';
import type { RawFrameSize } from './types.js';

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

/** The size of raw frames, or null for MJPEG output. */
export function rawFrameSize(o: FfmpegCommonOptions): RawFrameSize | null {
  return o.frameFormat === 'raw' ? { widthPx: o.widthPx ?? defaults.widthPx, heightPx: o.heightPx ?? defaults.heightPx } : null;
}

/**
 * Raw RGB of exactly one size, because the reader counts bytes to find each frame: the
 * probed source fitted inside the box (exact: scaled to it), or, when the source's size is
 * not known, fitted and padded to the whole box (black, centred).
 */
function rawOut(filters: (string | null)[], size: RawFrameSize, exact: boolean): string[] {
  const { widthPx: w, heightPx: h } = size;
  const fit = exact ? [`scale=${w}:${h}`] : [`scale=w=${w}:h=${h}:force_original_aspect_ratio=decrease`, `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2`];
  const vf = [...filters.filter((f): f is string => f !== null), ...fit].join(',');
  return ['-an', '-vf', vf, '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'];
}

function out(o: FfmpegCommonOptions, filters: (string | null)[], fitted?: RawFrameSize): string[] {
  const raw = rawFrameSize(o);
  if (raw) return rawOut(filters.filter((f) => !f?.startsWith('scale=')), fitted ?? raw, fitted !== undefined);
  return mjpegOut(filters, o.mjpegQscale ?? defaults.mjpegQscale);
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
  // The camera already delivers the asked size and rate; only re-encode (or convert).
  return [...HEAD, ...input, ...out(o, [])];
}

/** fitted: the exact raw frame size (the probed camera fitted inside the box); absent: padded to the box. */
export function rtspInput(o: RtspSourceOptions): string[] {
  const timeoutUs = Math.round((o.rtspTimeoutMs ?? defaults.rtspTimeoutMs) * 1000);
  return ['-rtsp_transport', o.transport ?? 'tcp', '-timeout', String(timeoutUs), '-i', o.url];
}

export function rtspArgs(o: RtspSourceOptions, fitted?: RawFrameSize): string[] {
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
    ...out(o, [`fps=${o.fps ?? defaults.fps}`, scaleFilter(o.widthPx, o.heightPx)], fitted),
  ];
}

export function replayVideoArgs(o: ReplaySourceOptions, fitted?: RawFrameSize): string[] {
  return [
    ...HEAD,
    ...(o.realtime ?? true ? ['-re'] : []),
    ...(o.loop ? ['-stream_loop', '-1'] : []),
    // file: stops a name with a colon being taken for a protocol.
    '-i', `file:${o.path}`,
    ...out(o, [o.fps === undefined ? null : `fps=${o.fps}`, scaleFilter(o.widthPx, o.heightPx)], fitted),
  ];
}
