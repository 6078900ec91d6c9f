// `gate-agent compare <a> <b>`: similarity of the largest face of each image.
import type { Command } from 'commander';
import { ImageError, readImageFile } from '../vision/image.js';
import { createPipeline } from '../vision/factory.js';
import { cosine } from '../vision/embedder.js';
import { action, fail, resolveContext, withCommonOptions, type CommonOptions } from './common.js';

export function register(program: Command): void {
  withCommonOptions(program.command('compare <a> <b>').description('compare the largest face of two images')).action(
    action(async (a: string, b: string, opts: CommonOptions) => {
      const ctx = resolveContext(opts);
      const { pipeline } = await createPipeline(ctx.config, ctx.modelsDir);
      await pipeline.start();
      try {
        const emb: Float32Array[] = [];
        for (const image of [a, b]) {
          let e: Float32Array | undefined;
          try {
            const res = await pipeline.analyzeEncoded(await readImageFile(image), { embed: true, maxEmbedFaces: 1 });
            e = res.faces[0]?.embedding;
          } catch (err) {
            if (err instanceof ImageError) return fail(`${image}: ${err.message}`);
            throw err;
          }
          if (!e) return fail(`${image}: no face found; use a photo where the face is visible and at least ${ctx.config.quality.minInterEyePx}px between the eyes`);
          emb.push(e);
        }
        const similarity = cosine(emb[0]!, emb[1]!);
        const threshold = ctx.config.match.threshold;
        const match = similarity >= threshold;
        if (opts.json) process.stdout.write(JSON.stringify({ similarity: Math.round(similarity * 1e4) / 1e4, match, threshold }) + '\n');
        else process.stdout.write(`similarity ${similarity.toFixed(3)} (threshold ${threshold}): ${match ? 'same person' : 'different people'}\n`);
      } finally {
        await pipeline.stop();
      }
    }),
  );
}
