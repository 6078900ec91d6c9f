// Capture: the first stage of the gate pipeline. The composition root calls
// createFrameSource(config.capture), start()s it, and the vision loop awaits next().
import { ReplaySource, RtspSource, V4l2Source } from './ffmpeg-sources.js';
import type { FrameSourceOptions } from './options.js';
import type { FrameSource } from './types.js';
import { WebcamSource } from './webcam-source.js';

export function createFrameSource(options: FrameSourceOptions): FrameSource {
  switch (options.kind) {
    case 'v4l2':
      return new V4l2Source(options);
    case 'rtsp':
      return new RtspSource(options);
    case 'replay':
      return new ReplaySource(options);
    case 'webcam':
      return new WebcamSource(options);
  }
}

export * from './types.js';
export * from './options.js';
export { rtspArgs, replayVideoArgs, v4l2Args } from './ffmpeg-args.js';
export { JpegSplitter, looksLikeJpeg, type JpegSplitterStats } from './jpeg-splitter.js';
export { RawFrameSplitter } from './raw-splitter.js';
export { rawFrameSize } from './ffmpeg-args.js';
export { LatestFrameSlot } from './latest-slot.js';
export { backoffDelayMs } from './supervisor.js';
export { ReplaySource, RtspSource, V4l2Source, WebcamSource };
