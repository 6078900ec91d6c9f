// Which camera a technician's tool (`camera snapshot`, `camera check`) opens, and whether
// it may while the daemon runs. A V4L2 device or a real webcam is opened by one process at
// a time, so the tools refuse while a live daemon holds it; a replay (a file read again)
// and an RTSP stream (a camera serves several clients) are shared, so those are allowed.
import { readStatus } from './status.js';
import { chooseCamera, type CameraChoice } from './camera.js';
import type { FrameSourceOptions } from '../capture/index.js';
import type { CameraConfig } from '../config/types.js';
import { relayLockHolder } from '../relay/index.js';

/** A problem the technician fixes; the CLI prints it as one line with exit 1. */
export class CameraToolError extends Error {
  override readonly name = 'UsageError';
}

/** The camera config with `--camera-path` applied the way `gate-agent run` applies it. */
export function cameraConfigWith(c: CameraConfig, cameraPath: string | undefined): CameraConfig {
  return cameraPath ? { ...c, kind: 'replay', path: cameraPath } : c;
}

/** Whether another process may read this source at the same time. */
export function sharedSource(o: FrameSourceOptions): boolean {
  if (o.kind === 'replay' || o.kind === 'rtsp') return true;
  // fswebcam's FILE: reads a still image, not a device.
  return o.kind === 'webcam' && o.device.startsWith('FILE:');
}

/** The pid of a live gate-agent daemon using `dataDir`, or null. */
export function runningDaemon(dataDir: string, nowMs: number = Date.now()): number | null {
  const holder = relayLockHolder(dataDir);
  if (holder !== null) return holder;
  const s = readStatus(dataDir, nowMs);
  return s.ok && s.snapshot.pid !== process.pid ? s.snapshot.pid : null;
}

/**
 * The frame source options for a tool, or a CameraToolError saying why not and what to do:
 * no camera configured, or an exclusive camera held by the running daemon.
 */
export function cameraForTool(c: CameraConfig, dataDir: string, what: string): CameraChoice & { options: FrameSourceOptions } {
  const choice = chooseCamera(c);
  if (!choice.options) throw new CameraToolError(`${what}: ${choice.description.replace(': waiting;', ';')}, or give --camera-path <video or folder>`);
  if (!sharedSource(choice.options)) {
    const pid = runningDaemon(dataDir);
    if (pid !== null) {
      throw new CameraToolError(
        `${what}: the camera (${choice.description}) is in use by the running gate-agent (pid ${pid}), and a ${choice.options.kind} camera serves one program at a time; ` +
          'stop the daemon first (`sudo systemctl stop gate-agent`) and start it again afterwards, or see its frame rate with `gate-agent status`',
      );
    }
  }
  return { ...choice, options: choice.options };
}

/** What to try when a camera delivers no frame, by kind. */
export function cameraFix(o: FrameSourceOptions): string {
  switch (o.kind) {
    case 'v4l2':
      return `check that the camera is plugged in (\`v4l2-ctl --list-devices\`), that no other program uses ${o.device}, and that camera.widthPx/heightPx/fps is a mode it offers (\`v4l2-ctl -d ${o.device} --list-formats-ext\`)`;
    case 'rtsp':
      return 'check camera.url (open it with `ffplay` or VLC on a laptop on the same network), the camera\'s power and network, and its user name and password';
    case 'replay':
      return 'check that camera.path (or --camera-path) is a playable video or a folder of .jpg/.png images';
    case 'webcam':
      return `check the camera with \`fswebcam -d ${o.device} /tmp/test.jpg\`, that it is plugged in and that the user is in the video group`;
  }
}
