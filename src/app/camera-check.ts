// `gate-agent camera check`: the configured camera run for a few seconds, measured as the
// daemon would receive it: frames per second, picture size, frames dropped or late, time
// to the first frame, and every error the source reported. No frame is kept.
import { frameSize } from './frame-image.js';
import { CaptureConfigError, createFrameSource, type FrameSourceOptions } from '../capture/index.js';
import { defaults } from '../capture/options.js';
import { cameraFix } from './camera-access.js';

export interface CameraCheckResult {
  /** At least one frame arrived. */
  ok: boolean;
  camera: string;
  kind: FrameSourceOptions['kind'];
  seconds: number;
  frames: number;
  /** Frames per second between the first and the last frame; null with fewer than two. */
  fps: number | null;
  /** What the config asks for (camera.fps). */
  expectedFps: number;
  /** Size of the frames, e.g. "640x480"; several when it changed during the check. */
  resolutions: string[];
  /** From start to the first frame, ms; null when none came. */
  firstFrameMs: number | null;
  /** Frames the source overwrote before they were taken (the newest frame wins). */
  dropped: number;
  /** Frames that came more than two frame intervals (2/camera.fps) after the one before. */
  late: number;
  restarts: number;
  errors: string[];
  /** Why no frame came and what to do; null when ok. */
  problem: string | null;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

export async function checkCamera(o: FrameSourceOptions, seconds: number, description: string): Promise<CameraCheckResult> {
  const expectedFps = o.fps ?? (o.kind === 'webcam' ? defaults.webcamFps : defaults.fps);
  // A replay loops for the check, so a short clip is measured for the whole time asked.
  const src = createFrameSource({ ...o, ...(o.kind === 'replay' ? { loop: true } : {}), id: 'camera' });
  const errors: string[] = [];
  src.on('error', (err) => {
    const text = err.message.replace(/^capture camera: /, '');
    if (!errors.includes(text)) errors.push(text);
  });
  const result: CameraCheckResult = { ok: false, camera: description, kind: o.kind, seconds, frames: 0, fps: null, expectedFps, resolutions: [], firstFrameMs: null, dropped: 0, late: 0, restarts: 0, errors, problem: null };
  const t0 = performance.now();
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), seconds * 1000);
  let first: number | null = null;
  let prev = 0;
  try {
    await src.start();
    for (;;) {
      let frame;
      try {
        frame = await src.next(ac.signal);
      } catch {
        break; // time is up, or the source closed
      }
      result.frames++;
      const at = frame.capturedAtMs;
      if (first === null) {
        first = at;
        result.firstFrameMs = Math.round(at - t0);
      } else if (at - prev > 2000 / expectedFps) result.late++;
      prev = at;
      const m = await frameSize(frame);
      const size = `${m.width || '?'}x${m.height || '?'}`;
      if (!result.resolutions.includes(size)) result.resolutions.push(size);
    }
  } catch (err) {
    if (!(err instanceof CaptureConfigError)) throw err;
    // Said as it is: the message already names each problem and its fix.
    result.problem = `the camera cannot start: ${err.message}`;
  } finally {
    clearTimeout(timer);
    const s = src.status();
    await src.stop();
    result.dropped = s.framesDropped;
    result.restarts = s.restarts;
  }
  if (first !== null && result.frames >= 2 && prev > first) result.fps = round1((result.frames - 1) / ((prev - first) / 1000));
  result.ok = result.frames > 0;
  if (!result.ok) result.problem ??= `no frame in ${seconds} s from ${description}${errors.length ? `: ${errors.at(-1)}` : ''}; ${cameraFix(o)}`;
  return result;
}
