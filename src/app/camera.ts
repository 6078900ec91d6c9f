// Camera config -> frame source options, with "auto" resolved and the reason said.
import { existsSync } from 'node:fs';
import type { FrameSourceOptions } from '../capture/index.js';
import type { CameraConfig } from '../config/types.js';

export interface CameraChoice {
  options: FrameSourceOptions | null;
  /** One line for the first log lines: what was chosen and why. */
  description: string;
}

export function chooseCamera(c: CameraConfig, deviceExists: (p: string) => boolean = existsSync): CameraChoice {
  const format = (auto: 'raw' | 'mjpeg') => ({ frameFormat: c.frameFormat === 'auto' ? auto : c.frameFormat });
  const common = { fps: c.fps, widthPx: c.widthPx, heightPx: c.heightPx, stallTimeoutMs: c.stallTimeoutMs, restartBackoffMinMs: c.restartBackoffMinMs, restartBackoffMaxMs: c.restartBackoffMaxMs };
  const replay = (why: string): CameraChoice =>
    c.path
      ? { options: { kind: 'replay', path: c.path, loop: c.loop, realtime: c.realtime, ...common, ...format('raw') }, description: `replay of ${c.path}${why}` }
      : { options: null, description: `no camera${why} and no camera.path to replay: waiting; set camera.kind/device or camera.path` };
  switch (c.kind) {
    case 'v4l2':
      return { options: { kind: 'v4l2', device: c.device, ...common, ...format('mjpeg') }, description: `v4l2 camera ${c.device}` };
    case 'webcam':
      return { options: { kind: 'webcam', device: c.device, fps: c.fps, widthPx: c.widthPx, heightPx: c.heightPx, stallTimeoutMs: c.stallTimeoutMs }, description: `webcam ${c.device} through fswebcam (about 1 frame/s)` };
    case 'rtsp':
      if (!c.url) return { options: null, description: 'camera.kind is rtsp but camera.url is not set: waiting; set camera.url' };
      return { options: { kind: 'rtsp', url: c.url, ...common, ...format('raw') }, description: 'RTSP camera' };
    case 'replay':
      return replay('');
    case 'auto':
      return deviceExists(c.device) ? { options: { kind: 'v4l2', device: c.device, ...common, ...format('mjpeg') }, description: `v4l2 camera ${c.device} (found)` } : replay(` (no camera at ${c.device})`);
  }
}
