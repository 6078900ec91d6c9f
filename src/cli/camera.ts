// `gate-agent camera snapshot|check`: aim and test the camera (docs/capture.md).
import type { Command } from 'commander';
import * as snapshot from './camera-snapshot.js';
import * as check from './camera-check.js';

export function register(program: Command): void {
  const camera = program
    .command('camera')
    .description('aim and test the configured camera (camera.*); a V4L2 camera or webcam needs the daemon stopped, a replay or RTSP camera does not');
  snapshot.register(camera);
  check.register(camera);
}
