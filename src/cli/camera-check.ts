// `gate-agent camera check [--seconds N]`: the camera's real frame rate and picture size.
import type { Command } from 'commander';
import { cameraConfigWith, cameraForTool } from '../app/camera-access.js';
import { checkCamera, type CameraCheckResult } from '../app/camera-check.js';
import { UsageError } from './format.js';
import { CAMERA_PATH_HELP } from './camera-snapshot.js';
import { action, fail, resolveContext, withCommonOptions, type CommonOptions } from './common.js';

interface CheckOptions extends CommonOptions {
  seconds: string;
  cameraPath?: string;
}

function formatCheck(r: CameraCheckResult): string {
  const lines = [
    `camera:       ${r.camera}`,
    `frames:       ${r.frames} in ${r.seconds} s`,
    `frame rate:   ${r.fps === null ? 'n/a (fewer than 2 frames)' : `${r.fps} frames/s`} (camera.fps asks for ${r.expectedFps})`,
    `resolution:   ${r.resolutions.join(', ') || 'n/a'}${r.resolutions.length > 1 ? ' (changed during the check)' : ''}`,
    `first frame:  ${r.firstFrameMs === null ? 'none' : `after ${r.firstFrameMs} ms`}`,
    `dropped:      ${r.dropped} (overwritten before they were taken)`,
    `late:         ${r.late} (more than two frame intervals after the one before)`,
    `restarts:     ${r.restarts}`,
    `errors:       ${r.errors.length ? r.errors.join('; ') : 'none'}`,
  ];
  if (r.fps !== null && r.fps < 0.8 * r.expectedFps) {
    lines.push(`note: ${r.fps} frames/s is below the ${r.expectedFps} asked; the camera may not offer that mode (lower camera.fps or camera.widthPx/heightPx), or it lacks light (longer exposures)`);
  }
  return lines.join('\n') + '\n';
}

export function register(camera: Command): void {
  withCommonOptions(
    camera
      .command('check')
      .description('run the configured camera for a few seconds and report its real frame rate, resolution, dropped and late frames, first-frame latency and errors; exit 1 when no frame arrives')
      .option('--seconds <n>', 'how long to run the camera', '5')
      .option('--camera-path <path>', CAMERA_PATH_HELP),
  ).action(
    action(async (opts: CheckOptions) => {
      const seconds = Number(opts.seconds);
      if (!(Number.isFinite(seconds) && seconds > 0 && seconds <= 600)) throw new UsageError(`--seconds ${opts.seconds}: must be a number of seconds above 0 and at most 600, e.g. --seconds 5`);
      const ctx = resolveContext(opts, { writesData: false });
      const cam = cameraForTool(cameraConfigWith(ctx.config.camera, opts.cameraPath), ctx.dataDir, 'camera check');
      const r = await checkCamera(cam.options, seconds, cam.description);
      if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
      else process.stdout.write(formatCheck(r));
      if (!r.ok) fail(`camera check: ${r.problem ?? 'no frame'}`, 1, { json: false });
    }),
  );
}
