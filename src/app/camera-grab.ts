// One frame from the configured camera for `gate-agent camera snapshot`: the daemon's own
// FrameSource, started, one frame taken, stopped. Nothing is kept but the frame returned.
import { closeSync, fchmodSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CaptureConfigError, FrameSourceClosedError, createFrameSource, type Frame, type FrameSourceOptions } from '../capture/index.js';
import { defaults } from '../capture/options.js';
import { CameraToolError, cameraFix } from './camera-access.js';

export interface GrabbedFrame {
  frame: Frame;
  /** From start() to the frame, monotonic ms. */
  firstFrameMs: number;
}

/**
 * The first frame the source delivers. It fails with what went wrong and the fix when the
 * source cannot start, loses the camera (its own stall watchdog: no frame for
 * camera.stallTimeoutMs), or ends (a replay) before a frame arrives.
 */
export async function grabFrame(o: FrameSourceOptions): Promise<GrabbedFrame> {
  const src = createFrameSource({ ...o, id: 'camera' });
  const ac = new AbortController();
  const fail = (why: string): void => ac.abort(new CameraToolError(`no frame from the camera: ${why}; ${cameraFix(o)}`));
  src.on('lost', (e) => fail(e.reason));
  src.on('error', () => undefined); // 'lost' above says it; an unheard 'error' would throw
  // A backstop should the watchdog itself never fire (an open() that hangs).
  const backstop = setTimeout(() => fail(`nothing within ${2 * (o.stallTimeoutMs ?? defaults.stallTimeoutMs)} ms`), 2 * (o.stallTimeoutMs ?? defaults.stallTimeoutMs));
  const t0 = performance.now();
  try {
    await src.start();
    const frame = await src.next(ac.signal);
    return { frame, firstFrameMs: performance.now() - t0 };
  } catch (err) {
    if (err instanceof CaptureConfigError) throw new CameraToolError(err.message);
    if (err instanceof FrameSourceClosedError) throw new CameraToolError(`no frame from the camera: the replay ended before its first frame; ${cameraFix(o)}`);
    throw err;
  } finally {
    clearTimeout(backstop);
    await src.stop();
  }
}

/**
 * The picture goes only to `file`, the place the technician named: 0600 (it shows faces),
 * written beside it and moved into place whole. Without `overwrite` an existing file is
 * refused (EEXIST), also one that appears while writing.
 */
export function writeSnapshot(file: string, jpeg: Buffer, overwrite: boolean): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600); // not left to the umask
    writeSync(fd, jpeg);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    if (overwrite) renameSync(tmp, file);
    else linkSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}
