// `gate-agent camera snapshot [--annotate] FILE`: one frame to aim the camera by.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { frameJpeg, frameSize } from '../app/frame-image.js';
import { cameraConfigWith, cameraForTool } from '../app/camera-access.js';
import { aimFace, annotateJpeg, type AimFace } from '../app/camera-aim.js';
import { grabFrame, writeSnapshot } from '../app/camera-grab.js';
import { decodeImage } from '../vision/image.js';
import { createPipeline } from '../vision/factory.js';
import { action, fail, resolveContext, withCommonOptions, type CommonOptions } from './common.js';
import { errorText } from '../errors.js';

export const CAMERA_PATH_HELP = 'use this video file or folder of images instead of the configured camera (as `run --camera-path`)';

interface SnapshotOptions extends CommonOptions {
  annotate?: boolean;
  force?: boolean;
  cameraPath?: string;
}

function formatFace(f: AimFace, i: number): string {
  const lines = [
    `  #${i + 1} box=[${f.box.map((v) => Math.round(v)).join(',')}] eyes=${f.interEyePx.toFixed(0)}px yaw=${f.yawDeg.toFixed(0)}° sharpness=${f.sharpness.toFixed(0)}: ${f.pass ? 'PASS (the gate would match this face)' : 'FAIL (the gate would skip this face)'}`,
  ];
  for (const c of f.checks) lines.push(`     ${c.pass ? 'ok  ' : 'FAIL'} ${c.key} ${c.limit}: ${c.hint ?? `${c.value}`}`);
  return lines.join('\n');
}

export function register(camera: Command): void {
  withCommonOptions(
    camera
      .command('snapshot <file>')
      .description('save one frame from the configured camera as a JPEG (mode 0600), to aim the camera; --annotate boxes the faces and checks each against quality.*')
      .option('--annotate', 'draw face boxes (green: passes quality.*, red: fails) and landmarks, and print each face\'s eye distance, yaw, sharpness and verdict')
      .option('--force', 'replace FILE if it exists')
      .option('--camera-path <path>', CAMERA_PATH_HELP)
      .addHelpText(
        'after',
        '\nThe picture shows the people in front of the camera: it is written only to FILE, where you\nask, never anywhere else; delete it once the camera is aimed. The daemon stores no frames.',
      ),
  ).action(
    action(async (file: string, opts: SnapshotOptions) => {
      const ctx = resolveContext(opts, { writesData: false });
      const out = resolve(file);
      if (!opts.force && existsSync(out)) return fail(`camera snapshot: ${out} exists; give --force to replace it, or another file name`);
      const cam = cameraForTool(cameraConfigWith(ctx.config.camera, opts.cameraPath), ctx.dataDir, 'camera snapshot');
      // Models first: a missing model is reported before the camera is opened.
      const pipeline = opts.annotate ? (await createPipeline(ctx.config, ctx.modelsDir)).pipeline : null;
      await pipeline?.start();
      try {
        const { frame, firstFrameMs } = await grabFrame(cam.options);
        // A raw frame (camera.frameFormat) is encoded once; the snapshot is a JPEG either way.
        let jpeg = await frameJpeg(frame);
        let width: number;
        let height: number;
        let faces: AimFace[] | null = null;
        if (pipeline) {
          const img = await decodeImage(jpeg, { maxPixels: ctx.config.vision.maxImagePixels });
          ({ width, height } = img);
          const res = await pipeline.analyze(img, { retryEmpty: ctx.config.daemon.retryEmptyFrames, embed: false });
          faces = res.faces.map((f) => aimFace(f, ctx.config.quality));
          jpeg = await annotateJpeg(jpeg, width, height, faces);
        } else {
          ({ width, height } = await frameSize(frame));
        }
        try {
          writeSnapshot(out, jpeg, Boolean(opts.force));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          const why = code === 'EEXIST' ? 'it appeared while the frame was taken; give --force to replace it' : code === 'ENOENT' ? 'its folder does not exist; create it or name another' : code === 'EACCES' ? 'permission denied; choose a folder you can write' : errorText(err);
          return fail(`camera snapshot: cannot write ${out}: ${why}`);
        }
        const result = { file: out, camera: cam.description, width, height, firstFrameMs: Math.round(firstFrameMs), annotated: Boolean(opts.annotate), faces };
        if (opts.json) process.stdout.write(JSON.stringify(result) + '\n');
        else {
          process.stdout.write(`wrote ${out} (${width}x${height}, mode 0600) from ${cam.description}; first frame after ${result.firstFrameMs} ms\n`);
          if (faces) {
            process.stdout.write(`${faces.length} face(s)${faces.length ? '' : ': nobody in view, or faces too small for the detector; stand where people will walk up and take another'}\n`);
            faces.forEach((f, i) => process.stdout.write(formatFace(f, i) + '\n'));
          }
          process.stdout.write('the picture shows people: delete it once the camera is aimed\n');
        }
      } finally {
        await pipeline?.stop();
      }
    }),
  );
}
