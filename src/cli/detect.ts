// `gate-agent detect|embed <image…>`: faces of each image, one JSON line per image.
import type { Command } from 'commander';
import { readImageFile, ImageError } from '../vision/image.js';
import { createPipeline } from '../vision/factory.js';
import type { Face } from '../vision/types.js';
import { assertCommandLineFits } from './argv-guard.js';
import { expandImageArgs, LIST_HELP } from './image-args.js';
import { action, fail, resolveContext, withCommonOptions, type CommonOptions } from './common.js';

const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

export function faceJson(f: Face, withEmbedding: boolean): Record<string, unknown> {
  return {
    box: f.box.map((v) => round(v)),
    score: round(f.score, 4),
    landmarks: f.landmarks.map(([x, y]) => [round(x), round(y)]),
    quality: { interEyePx: round(f.interEyePx, 1), yawDeg: round(f.yawDeg, 1), sharpness: round(f.sharpness, 1) },
    ...(withEmbedding && f.embedding ? { embedding: Array.from(f.embedding, (v) => round(v, 6)) } : {}),
  };
}

export function register(program: Command, name: 'detect' | 'embed'): void {
  const embed = name === 'embed';
  withCommonOptions(
    program
      .command(`${name} [images...]`)
      .description(embed ? 'detect faces and print their 512-d embeddings' : 'detect faces and print boxes, landmarks and quality')
      .option('--list <file>', LIST_HELP)
      .addHelpText('after', '\nImages may be files or folders; pass many images as a folder or --list, not on the command line.'),
  ).action(
    action(async (args: string[], opts: CommonOptions & { list?: string }) => {
      assertCommandLineFits('pass a folder or --list <file> instead of the image paths');
      const images = await expandImageArgs(args, opts.list);
      const ctx = resolveContext(opts);
      const { pipeline } = await createPipeline(ctx.config, ctx.modelsDir);
      await pipeline.start();
      try {
        for (const image of images) {
          try {
            const res = await pipeline.analyzeEncoded(await readImageFile(image), { embed });
            if (opts.json) {
              const faces = res.faces.map((f) => faceJson(f, embed));
              process.stdout.write(JSON.stringify({ image, width: res.width, height: res.height, faces }) + '\n');
            } else {
              process.stdout.write(`${image}: ${res.width}x${res.height}, ${res.faces.length} face(s)\n`);
              res.faces.forEach((f, i) => {
                process.stdout.write(
                  `  #${i + 1} box=[${f.box.map((v) => Math.round(v)).join(',')}] score=${f.score.toFixed(2)} eyes=${f.interEyePx.toFixed(0)}px yaw=${f.yawDeg.toFixed(0)}° sharpness=${f.sharpness.toFixed(0)}\n`,
                );
              });
            }
          } catch (err) {
            if (!(err instanceof ImageError)) throw err;
            if (opts.json) process.stdout.write(JSON.stringify({ image, error: { code: err.code, message: err.message } }) + '\n');
            fail(`${image}: ${err.message}`, 1, { json: false });
          }
        }
      } finally {
        await pipeline.stop();
      }
    }),
  );
}
