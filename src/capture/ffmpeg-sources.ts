// The ffmpeg-backed sources: a USB camera (v4l2), an IP camera (rtsp) and replay of a
// video file or image directory. They differ only in their checks and command lines;
// supervision, the slot and the process handling are shared.
import { basename } from 'node:path';
import { rawFrameSize, rtspArgs, rtspInput, replayVideoArgs, v4l2Args } from './ffmpeg-args.js';
import { fitInside, probeDisplaySize } from './raw-size.js';
import type { RawFrameSize } from './types.js';
import { openFfmpegSession } from './ffmpeg-session.js';
import { checkExecutable, checkReplayPath, checkVideoDevice } from './checks.js';
import { openImageDirSession } from './image-dir.js';
import { defaults, redactUrl, type ReplaySourceOptions, type RtspSourceOptions, type V4l2SourceOptions } from './options.js';
import { SupervisedSource, type CaptureSession, type SessionSink } from './supervisor.js';

abstract class FfmpegSource<O extends V4l2SourceOptions | RtspSourceOptions | ReplaySourceOptions> extends SupervisedSource {
  constructor(
    protected readonly opts: O,
    defaultId: string,
  ) {
    super(opts.kind, opts, defaultId);
  }

  protected options(): O {
    return this.opts;
  }

  protected ffmpegPath(): string {
    return this.opts.ffmpegPath ?? defaults.ffmpegPath;
  }

  protected checkFfmpeg(): Promise<string[]> {
    return checkExecutable('ffmpegPath', this.ffmpegPath(), 'ffmpeg');
  }

  protected spawn(args: string[], exitZeroIsEnd: boolean, sink: SessionSink, raw: RawFrameSize | null = rawFrameSize(this.opts)): Promise<CaptureSession> {
    const killGraceMs = this.opts.killGraceMs ?? defaults.killGraceMs;
    return Promise.resolve(openFfmpegSession({ ffmpegPath: this.ffmpegPath(), args, killGraceMs, exitZeroIsEnd, raw, log: this.log }, sink));
  }

  /**
   * Raw frames: the source's size fitted inside the box, probed before each session (a
   * camera may come back with another size). A source that cannot be probed fails the
   * session like one that cannot be opened, and is retried with backoff.
   */
  protected async fittedRawSize(input: string[], ffprobePath: string, timeoutMs: number): Promise<RawFrameSize | undefined> {
    const box = rawFrameSize(this.opts);
    if (!box) return undefined;
    const size = await probeDisplaySize(ffprobePath, input, timeoutMs);
    if ('error' in size) throw new Error(`cannot read the video size for raw frames: ${size.error}`);
    return fitInside(size.width, size.height, box);
  }
}

export class V4l2Source extends FfmpegSource<V4l2SourceOptions> {
  constructor(opts: V4l2SourceOptions) {
    super(opts, `v4l2:${opts.device}`);
  }

  protected async check(): Promise<string[]> {
    return [...(await checkVideoDevice('device', this.opts.device)), ...(await this.checkFfmpeg())];
  }

  protected open(sink: SessionSink): Promise<CaptureSession> {
    return this.spawn(v4l2Args(this.opts), false, sink);
  }
}

export class RtspSource extends FfmpegSource<RtspSourceOptions> {
  constructor(opts: RtspSourceOptions) {
    // The id is logged everywhere: host and path only, never the credentials.
    super(opts, `rtsp:${redactUrl(opts.url).replace(/^rtsps?:\/\/(\*\*\*@)?/, '')}`);
  }

  /** An unreachable camera is not a config error: it is retried like a lost one. */
  protected check(): Promise<string[]> {
    return this.checkFfmpeg();
  }

  protected async open(sink: SessionSink): Promise<CaptureSession> {
    const fitted = await this.fittedRawSize(rtspInput(this.opts), defaults.ffprobePath, (this.opts.rtspTimeoutMs ?? defaults.rtspTimeoutMs) * 2);
    return this.spawn(rtspArgs(this.opts, fitted), false, sink, fitted ?? null);
  }
}

export class ReplaySource extends FfmpegSource<ReplaySourceOptions> {
  private mode: 'video' | 'images' = 'video';

  constructor(opts: ReplaySourceOptions) {
    super(opts, `replay:${basename(opts.path)}`);
  }

  protected async check(): Promise<string[]> {
    const { mode, problems } = await checkReplayPath(this.opts.path, this.opts.ffprobePath ?? defaults.ffprobePath);
    if (mode) this.mode = mode;
    if (mode === 'video') problems.push(...(await this.checkFfmpeg()));
    return problems;
  }

  protected async open(sink: SessionSink): Promise<CaptureSession> {
    if (this.mode === 'images') {
      const fps = this.opts.fps ?? defaults.fps;
      return openImageDirSession({ dir: this.opts.path, fps, loop: this.opts.loop ?? false, clock: this.clock }, sink);
    }
    const fitted = await this.fittedRawSize([`file:${this.opts.path}`], this.opts.ffprobePath ?? defaults.ffprobePath, 10_000);
    return this.spawn(replayVideoArgs(this.opts, fitted), !this.opts.loop, sink, fitted ?? null);
  }
}
