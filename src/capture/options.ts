// Options for every frame source, as one discriminated union, plus the defaults and the
// pure checks that run before any I/O. The config's `camera` section (src/config/sections/
// camera.ts) owns the defaults both share; units are in the names so a reader never
// guesses (stallTimeoutMs, widthPx).
import { cameraDefaults } from '../config/sections/camera.js';
import type { Clock } from './types.js';

export const defaults = {
  /** Frames per second asked of ffmpeg sources and image-directory replay. */
  fps: cameraDefaults.fps,
  /** node-webcam spawns fswebcam once per frame, so about 1 fps is all it can do. */
  webcamFps: 1,
  widthPx: cameraDefaults.widthPx,
  heightPx: cameraDefaults.heightPx,
  /** No frame for this long counts as a lost camera and triggers a restart. */
  stallTimeoutMs: cameraDefaults.stallTimeoutMs,
  restartBackoffMinMs: cameraDefaults.restartBackoffMinMs,
  restartBackoffMaxMs: cameraDefaults.restartBackoffMaxMs,
  /** Time ffmpeg gets to exit after SIGTERM before SIGKILL. */
  killGraceMs: 2000,
  /** RTSP socket I/O timeout, so a dead camera ends ffmpeg instead of hanging it. */
  rtspTimeoutMs: 5000,
  /** ffmpeg MJPEG quality scale, 2 (best, large) .. 31 (worst, small). */
  mjpegQscale: 5,
  ffmpegPath: 'ffmpeg',
  ffprobePath: 'ffprobe',
} as const;

export interface CommonSourceOptions {
  /** Names the source in frames, logs and status; defaults to a description without secrets. */
  id?: string;
  stallTimeoutMs?: number;
  restartBackoffMinMs?: number;
  restartBackoffMaxMs?: number;
  /** Injected for tests; defaults to performance.now() and the global timers. */
  clock?: Clock;
}

export interface FfmpegCommonOptions extends CommonSourceOptions {
  fps?: number;
  /** Scale output to this size; v4l2 asks the camera for it instead. */
  widthPx?: number;
  heightPx?: number;
  mjpegQscale?: number;
  /**
   * mjpeg: ffmpeg writes JPEGs that the vision stage decodes (sharp). raw: ffmpeg writes
   * packed RGB at widthPx x heightPx (scaled to fit, black bars for another aspect ratio),
   * saving a JPEG encode and decode per frame where ffmpeg decodes anyway (RTSP H.264,
   * video files). Default mjpeg.
   */
  frameFormat?: 'mjpeg' | 'raw';
  killGraceMs?: number;
  ffmpegPath?: string;
}

export interface V4l2SourceOptions extends FfmpegCommonOptions {
  kind: 'v4l2';
  /** e.g. /dev/video0 */
  device: string;
  /** What to ask the camera for: most USB cameras give mjpeg at full frame rate. */
  inputFormat?: 'mjpeg' | 'yuyv422' | 'auto';
  /** With mjpeg input, pass the camera's JPEGs through without re-encoding (less CPU). */
  mjpegPassthrough?: boolean;
}

export interface RtspSourceOptions extends FfmpegCommonOptions {
  kind: 'rtsp';
  /** rtsp://user:pass@host:554/path; the credentials never reach a log line. */
  url: string;
  transport?: 'tcp' | 'udp';
  rtspTimeoutMs?: number;
}

export interface ReplaySourceOptions extends FfmpegCommonOptions {
  kind: 'replay';
  /** A video file (decoded by ffmpeg) or a directory of .jpg/.jpeg/.png read in name order. */
  path: string;
  /** Start again at the beginning instead of ending. */
  loop?: boolean;
  /** Video only: pace at the file's own speed (ffmpeg -re) rather than as fast as possible. */
  realtime?: boolean;
  ffprobePath?: string;
}

export interface WebcamSourceOptions extends CommonSourceOptions {
  kind: 'webcam';
  /** Passed to fswebcam -d: /dev/video0, or FILE:/path/photo.jpg for tests and demos. */
  device: string;
  /** At most about 1 (node-webcam starts one fswebcam process per frame). */
  fps?: number;
  widthPx?: number;
  heightPx?: number;
  /** 1..100 */
  jpegQuality?: number;
  /** Where fswebcam writes each frame before it is read and deleted; use a tmpfs. */
  scratchDir?: string;
}

export type FrameSourceOptions = V4l2SourceOptions | RtspSourceOptions | ReplaySourceOptions | WebcamSourceOptions;

function positive(problems: string[], key: string, v: number | undefined, example: number): void {
  if (v !== undefined && !(Number.isFinite(v) && v > 0)) {
    problems.push(`capture.${key}: ${String(v)}: must be a number above 0, e.g. ${example}`);
  }
}

function integerIn(problems: string[], key: string, v: number | undefined, lo: number, hi: number): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= lo && v <= hi)) {
    problems.push(`capture.${key}: ${String(v)}: must be a whole number from ${lo} to ${hi}`);
  }
}

/**
 * Every problem that can be seen without I/O, each as `path: value: what is wrong, how to
 * fix`, so the daemon and `config validate` report them all at once.
 */
export function validateSourceOptions(o: FrameSourceOptions): string[] {
  const problems: string[] = [];
  positive(problems, 'stallTimeoutMs', o.stallTimeoutMs, defaults.stallTimeoutMs);
  positive(problems, 'restartBackoffMinMs', o.restartBackoffMinMs, defaults.restartBackoffMinMs);
  positive(problems, 'restartBackoffMaxMs', o.restartBackoffMaxMs, defaults.restartBackoffMaxMs);
  const min = o.restartBackoffMinMs ?? defaults.restartBackoffMinMs;
  const max = o.restartBackoffMaxMs ?? defaults.restartBackoffMaxMs;
  if (min > max) problems.push(`capture.restartBackoffMaxMs: ${max}: is below restartBackoffMinMs (${min}); raise it`);
  positive(problems, 'fps', o.fps, o.kind === 'webcam' ? defaults.webcamFps : defaults.fps);
  integerIn(problems, 'widthPx', o.widthPx, 16, 8192);
  integerIn(problems, 'heightPx', o.heightPx, 16, 8192);
  if (o.kind !== 'webcam' && o.frameFormat !== undefined && o.frameFormat !== 'mjpeg' && o.frameFormat !== 'raw') {
    problems.push(`capture.frameFormat: ${String(o.frameFormat)}: unknown; use mjpeg or raw`);
  }
  if (o.kind === 'v4l2' && o.frameFormat === 'raw' && o.mjpegPassthrough) {
    problems.push('capture.frameFormat: raw: cannot pass the camera\'s JPEGs through as raw frames; drop mjpegPassthrough or use frameFormat mjpeg');
  }
  const fps = o.fps ?? (o.kind === 'webcam' ? defaults.webcamFps : defaults.fps);
  const stall = o.stallTimeoutMs ?? defaults.stallTimeoutMs;
  if (fps > 0 && stall < 2000 / fps) {
    problems.push(`capture.stallTimeoutMs: ${stall}: shorter than two frame intervals at ${fps} fps; raise it to at least ${Math.ceil(2000 / fps)}`);
  }
  switch (o.kind) {
    case 'v4l2':
      if (!o.device) problems.push('capture.device: (empty): name the camera device, e.g. /dev/video0');
      if (o.mjpegPassthrough && (o.inputFormat ?? 'mjpeg') !== 'mjpeg') {
        problems.push(`capture.mjpegPassthrough: true: needs inputFormat mjpeg (is ${String(o.inputFormat)}); set one or the other`);
      }
      integerIn(problems, 'mjpegQscale', o.mjpegQscale, 2, 31);
      break;
    case 'rtsp':
      if (!/^rtsps?:\/\/[^/\s]+/.test(o.url ?? '')) {
        problems.push(`capture.url: ${redactUrl(o.url ?? '')}: is not an rtsp:// URL; use rtsp://user:pass@camera-host:554/stream`);
      }
      positive(problems, 'rtspTimeoutMs', o.rtspTimeoutMs, defaults.rtspTimeoutMs);
      integerIn(problems, 'mjpegQscale', o.mjpegQscale, 2, 31);
      break;
    case 'replay':
      if (!o.path) problems.push('capture.path: (empty): name a video file or a directory of images');
      integerIn(problems, 'mjpegQscale', o.mjpegQscale, 2, 31);
      break;
    case 'webcam':
      // node-webcam runs fswebcam through a shell (child_process.exec): anything beyond a
      // plain path would be interpreted by the shell, so it is refused rather than quoted.
      if (!/^(FILE:)?[\w./@+-]+$/.test(o.device ?? '')) {
        problems.push(`capture.device: ${JSON.stringify(o.device)}: must be a plain device path such as /dev/video0 (letters, digits, . / _ - + @ only)`);
      }
      if (o.scratchDir !== undefined && !/^[\w./@+-]+$/.test(o.scratchDir)) {
        problems.push(`capture.scratchDir: ${JSON.stringify(o.scratchDir)}: must be a plain path (letters, digits, . / _ - + @ only), e.g. /dev/shm`);
      }
      integerIn(problems, 'jpegQuality', o.jpegQuality, 1, 100);
      break;
    default: {
      const kind: unknown = (o as { kind?: unknown }).kind;
      problems.push(`capture.kind: ${String(kind)}: unknown source; use v4l2, rtsp, replay or webcam`);
    }
  }
  return problems;
}

/**
 * rtsp://user:pass@host/x -> rtsp://***@host/x: URLs are logged only through this. Greedy
 * up to the last @ of the authority, so an unencoded @ in a password does not leak its tail.
 */
export function redactUrl(url: string): string {
  return url.replace(/([a-z][\w+.-]*:\/\/)[^/\s]*@/gi, '$1***@');
}
