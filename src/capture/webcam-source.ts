// USB camera through node-webcam, which runs one fswebcam process per picture: about one
// frame per second at best, so it suits a kiosk check-in, not a walking crowd (use v4l2).
//
// node-webcam's in-memory mode (location null) returns fswebcam's stderr text instead of
// the image (Webcam.js passes `derr` to createShot) and decodes stdout as UTF-8, which
// would corrupt a JPEG anyway. So each picture goes to a file in a private 0700 scratch
// directory, is read, and is deleted at once; stop() removes the directory. A face photo
// must never outlive the frame. Put scratchDir on a tmpfs so it never reaches the SD card.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkExecutable, checkReadableFile, checkVideoDevice } from './checks.js';
import { defaults, type WebcamSourceOptions } from './options.js';
import { SupervisedSource, type CaptureSession, type SessionEnd, type SessionSink } from './supervisor.js';
import { errorText } from '../errors.js';

/** The part of node-webcam used here (it ships no types). */
interface NodeWebcamCamera {
  capture(location: string, cb: (err: Error | null, data?: Buffer) => void): void;
}
interface NodeWebcamModule {
  create(opts: Record<string, unknown>): NodeWebcamCamera;
}
const require = createRequire(import.meta.url);

/** fswebcam's own capture timeout (-T, default 10 s) bounds a hung picture. */
const FSWEBCAM_FILE_PREFIX = 'FILE:';

export class WebcamSource extends SupervisedSource {
  constructor(private readonly opts: WebcamSourceOptions) {
    super('webcam', opts, `webcam:${opts.device}`);
  }

  protected options(): WebcamSourceOptions {
    return this.opts;
  }

  protected async check(): Promise<string[]> {
    const d = this.opts.device ?? '';
    const device = d.startsWith(FSWEBCAM_FILE_PREFIX)
      ? await checkReadableFile('device', d.slice(FSWEBCAM_FILE_PREFIX.length), 'the image given as FILE:')
      : await checkVideoDevice('device', d);
    return [...device, ...(await checkExecutable('fswebcam', 'fswebcam', 'fswebcam'))];
  }

  protected async open(sink: SessionSink): Promise<CaptureSession> {
    const base = this.opts.scratchDir ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
    const nodeWebcam = require('node-webcam') as NodeWebcamModule;
    const dir = await mkdtemp(join(base, 'gate-webcam-')); // mode 0700
    const cam = nodeWebcam.create({
      device: this.opts.device,
      width: this.opts.widthPx ?? defaults.widthPx,
      height: this.opts.heightPx ?? defaults.heightPx,
      quality: this.opts.jpegQuality ?? 90,
      output: 'jpeg',
      callbackReturn: 'buffer',
      saveShots: false, // node-webcam would otherwise keep every shot in memory
      verbose: false,
    });
    const location = join(dir, 'frame.jpg');
    const intervalMs = 1000 / (this.opts.fps ?? defaults.webcamFps);
    const clock = this.clock;
    let closed = false;
    let timer: unknown = null;
    let resolveDone!: (end: SessionEnd) => void;
    const done = new Promise<SessionEnd>((r) => (resolveDone = r));

    const shoot = (): Promise<Buffer> =>
      new Promise((resolve, reject) => {
        cam.capture(location, (err, data) => (err || !data ? reject(err ?? new Error('fswebcam returned no image')) : resolve(data)));
      });

    const tick = async (): Promise<void> => {
      timer = null;
      const startedMs = clock.now();
      try {
        const jpeg = await shoot();
        if (!closed) sink.frame(jpeg);
      } catch (err) {
        if (!closed) resolveDone({ kind: 'failed', reason: `fswebcam: ${errorText(err).trim().split('\n').pop() ?? ''}` });
        return;
      } finally {
        await rm(location, { force: true });
      }
      if (closed) return;
      timer = clock.setTimeout(() => {
        void tick();
      }, Math.max(0, intervalMs - (clock.now() - startedMs)));
    };
    void tick();

    return {
      done,
      pid: null, // node-webcam does not expose the fswebcam child
      async close(): Promise<void> {
        closed = true;
        if (timer !== null) clock.clearTimeout(timer);
        // A capture in flight then fails to write into the vanished directory, or its
        // file disappears with it: either way nothing is left on disk.
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}
