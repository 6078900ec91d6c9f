// `gate-agent eval verify|identify|pad`: accuracy figures of this agent's pipeline on
// labelled photos and videos. Thin: parses flags, builds the pipeline, calls src/eval/.
import { Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { thresholdRule } from '../match/identification-config.js';
import { modelById } from '../models/manifest.js';
import { createPipeline, inProcessThreads } from '../vision/factory.js';
import { EmbeddingCache, ImageEmbedder, pipelineKey, type ImageEmbedding } from '../eval/embeddings.js';
import { evaluateIdentification, gallerySizes, planSeparate, planSplit } from '../eval/identify.js';
import { EvalInputError, identitiesFromList, identityFolders, readList, tracksAt } from '../eval/inputs.js';
import { createLivenessCheck } from '../gate/liveness.js';
import { evaluatePad, parseSourceArg, type PadSource } from '../eval/pad.js';
import { evaluatePairs, readPairs } from '../eval/verify.js';
import { qualityProblem } from '../match/quality-gate.js';
import { defaults as captureDefaults } from '../capture/options.js';
import { assertCommandLineFits } from './argv-guard.js';
import { REPORTED, action, resolveContext, withCommonOptions, type CommonOptions, type Context } from './common.js';
import { printIdentify, printPad, printVerify } from './eval-format.js';
import { UsageError } from './format.js';

const LONG_HINT = 'pass folders or a --list <file> instead of single paths';
const KNOWN = ['ModelFileError', 'ImageError', 'UsageError', 'StoreError', 'ConfigError'];

/** Like action(), and with --json a failure is also printed as {"error": {...}} on stdout. */
function evalAction<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return action(async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      const opts = args.find((a): a is CommonOptions => typeof a === 'object' && a !== null && !(a instanceof Command) && !Array.isArray(a));
      if (opts?.json && err instanceof Error && KNOWN.includes(err.name)) {
        const code = (err as { code?: unknown }).code;
        process.stdout.write(JSON.stringify({ error: { code: typeof code === 'string' ? code : err.name, message: err.message } }) + '\n');
        Object.assign(err, { [REPORTED]: true });
      }
      throw err;
    }
  });
}

/** A progress bar on stderr, only on a terminal. */
function progress(label: string, total: number, json: boolean | undefined): { tick(): void; stop(): void } {
  if (!process.stderr.isTTY || total === 0) return { tick() {}, stop() {} };
  const bar = new SingleBar({ format: `${label} [{bar}] {value}/{total} {eta_formatted}`, stream: process.stderr, clearOnComplete: Boolean(json) }, Presets.shades_classic);
  bar.start(total, 0);
  return { tick: () => bar.increment(), stop: () => bar.stop() };
}

async function withEmbedder<T>(ctx: Context, cacheFile: string | undefined, fn: (e: ImageEmbedder) => Promise<T>): Promise<T> {
  const { pipeline, detectorId, embedderId } = await createPipeline(ctx.config, ctx.modelsDir);
  const cache = cacheFile ? new EmbeddingCache(cacheFile) : null;
  await cache?.load();
  await pipeline.start();
  try {
    return await fn(new ImageEmbedder(pipeline, pipelineKey(ctx.config, detectorId, embedderId), cache));
  } finally {
    await pipeline.stop();
  }
}

function parseSizes(s: string): (number | 'all')[] {
  return s.split(',').map((x) => {
    const t = x.trim();
    if (t === 'all') return 'all';
    const n = Number(t);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--sizes "${s}": each size is a positive whole number or "all", like 100,500,all`);
    return n;
  });
}

function positiveInt(flag: string) {
  return (s: string): number => {
    const n = Number(s);
    if (!(Number.isInteger(n) && n > 0)) throw new UsageError(`${flag} "${s}" is not a positive whole number`);
    return n;
  };
}

function positive(flag: string) {
  return (s: string): number => {
    const n = Number(s);
    if (!(n > 0)) throw new UsageError(`${flag} "${s}" is not a positive number`);
    return n;
  };
}

const CACHE_HELP = 'file of embeddings kept between runs (keyed by path, mtime, size and pipeline); it holds face templates, keep it private';

type VerifyOpts = CommonOptions & { pairs: string; images?: string; cache?: string; show: number };
type IdentifyOpts = CommonOptions & { gallery?: string; probes?: string; list?: string; sizes: string; cache?: string; show: number; enrollPhotos: number; writeCalibration?: string; passageFrames?: number; passagesPerIdentity: number };
type PadOpts = CommonOptions & { live: string[]; attack: string[]; list?: string; videoFps: number };

export function register(program: Command): void {
  const ev = program.command('eval').description('measure recognition and liveness accuracy on labelled photos and videos (docs/accuracy.md)');

  withCommonOptions(
    ev
      .command('verify')
      .description('1:1 verification on labelled pairs: accuracy at match.threshold, the best threshold, TAR at FAR 1e-2 and 1e-3, the failing pairs')
      .requiredOption('--pairs <file>', 'pairs file: a<TAB>b<TAB>yes|no per line (header "a b same" allowed)')
      .option('--images <dir>', 'folder the pair paths are relative to (default: the pairs file\'s folder)')
      .option('--cache <file>', CACHE_HELP)
      .option('--show <n>', 'failing pairs listed in the text output', positive('--show'), 20),
  ).action(
    evalAction(async (opts: VerifyOpts) => {
      assertCommandLineFits(LONG_HINT);
      const ctx = resolveContext(opts);
      const pairs = await readPairs(opts.pairs, opts.images);
      const report = await withEmbedder(ctx, opts.cache, async (emb) => {
        const bar = progress('pairs', pairs.length, opts.json);
        try {
          return await evaluatePairs(pairs, (p) => emb.embed(p), ctx.config.match.threshold, bar.tick);
        } finally {
          bar.stop();
        }
      });
      printVerify(report, opts);
    }),
  );

  withCommonOptions(
    ev
      .command('identify')
      .description('1:N identification: FNIR, FPIR and wrong-identity matches at match.threshold and match.margin, at several gallery sizes')
      .option('--gallery <dir>', 'one sub-folder of photos per identity')
      .option('--probes <dir>', 'probe photos, one sub-folder per identity; without it, --gallery is split (see below)')
      .option('--list <file>', 'instead of --gallery: image paths, one per line; the identity is each image\'s folder name')
      .option('--sizes <list>', 'gallery sizes (enrolled identities), comma-separated', '100,500,all')
      .option('--cache <file>', CACHE_HELP)
      .option('--show <n>', 'wrong matches listed in the text output', positive('--show'), 10)
      .option('--enroll-photos <n>', 'without --probes: photos enrolled per identity (each a template; one photo is always left to probe with)', positiveInt('--enroll-photos'), 1)
      .option('--write-calibration <file>', 'write the impostor score distribution of this run as a calibration table (JSON) for identification.calibrationFile')
      .option('--passage-frames <n>', 'also walk passages of n probe photos of one person through the gate\'s frame stages (fusion, votes): FNIR and FPIR per passage', positiveInt('--passage-frames'))
      .option('--passages-per-identity <n>', 'with --passage-frames: at most this many passages per identity', positiveInt('--passages-per-identity'), 10)
      .addHelpText(
        'after',
        `
Without --probes, each identity with two or more photos is enrolled with its first usable
photo (name order) and probed with the others; identities with one photo are strangers.
With --probes, every usable photo of each --gallery identity is enrolled; probe folders
named like an enrolled identity are genuine, the others strangers. A gallery of size N
holds the first N enrolled identities in name order; the strangers are the same at every
size. When an image has several faces, the one nearest the image centre is used.
Figures are at the effective threshold of each size (identification.targetFpir over the
calibration table, never below match.threshold) and at match.threshold alone. Verification
claims: every usable probe claims every enrolled identity that is not its own (1:1 at the
verify threshold). The FPIR for larger events is extrapolated from the calibration table.
--passage-frames n: each identity's probe photos, n at a time, are shown as the frames of
one walk-up to the gate's FrameMatcher and GatePolicy (gate.fusionFrames, votesNeeded of
votesWindow, the effective threshold), once against the full gallery (genuine) and once
with that identity left out (a stranger); at gate.fusionFrames 1 and as configured.`,
      ),
  ).action(
    evalAction(async (opts: IdentifyOpts) => {
      assertCommandLineFits(LONG_HINT);
      if (!opts.gallery === !opts.list) throw new UsageError('pass either --gallery <dir> or --list <file>');
      if (opts.probes && !opts.gallery) throw new UsageError('--probes needs --gallery');
      const sizes = parseSizes(opts.sizes);
      const ctx = resolveContext(opts);
      const gallery = opts.gallery ? await identityFolders(opts.gallery) : identitiesFromList((await readList(opts.list!)).map((r) => r.path));
      const probes = opts.probes ? await identityFolders(opts.probes) : null;
      const all = [...gallery.values(), ...(probes?.values() ?? [])].flat();
      const report = await withEmbedder(ctx, opts.cache, async (emb) => {
        const seen = new Map<string, ImageEmbedding>();
        const bar = progress('embedding', all.length, opts.json);
        try {
          for (const p of all) {
            seen.set(p, await emb.embed(p));
            bar.tick();
          }
        } finally {
          bar.stop();
        }
        const usable = (p: string) => {
          const e = seen.get(p);
          return e?.status === 'ok' && qualityProblem(e.face, ctx.config.quality) === null;
        };
        const plan = probes ? planSeparate(gallery, probes, usable) : planSplit(gallery, usable, opts.enrollPhotos);
        const identities = new Set([...gallery.keys(), ...(probes?.keys() ?? [])]).size;
        const dim = modelById(ctx.config.models.embedder).embeddingSize ?? 512;
        const rule = thresholdRule(ctx.config);
        return evaluateIdentification(plan, identities, gallerySizes(sizes, plan.enroll.size), { config: ctx.config, rule, modelId: ctx.config.models.embedder, embed: (p) => emb.embed(p),
          dim,
          ...(opts.passageFrames && { passages: { frames: opts.passageFrames, maxPerIdentity: opts.passagesPerIdentity, config: ctx.config } }),
        });
      });
      if (report.enrolled === 0) throw new EvalInputError('empty', 'nobody could be enrolled: no identity has two or more photos with a usable face');
      if (opts.writeCalibration) {
        if (!report.calibration) throw new EvalInputError('empty', `--write-calibration: only ${report.strangers} strangers x ${report.enrolled} enrolled comparisons; a table needs at least 1000`);
        await writeFile(opts.writeCalibration, JSON.stringify(report.calibration, null, 1) + '\n');
      }
      printIdentify(report, opts);
    }),
  );

  withCommonOptions(
    ev
      .command('pad')
      .description('presentation attacks: APCER per attack source and BPCER, per frame and per track, at the liveness threshold')
      .option('--live <path>', 'bona fide presentations: an image, a folder of frames or a video; repeatable; LABEL=PATH names it', collect, [])
      .option('--attack <path>', 'attack presentations, the same way; each one is an attack source in the report', collect, [])
      .option('--list <file>', 'path<TAB>live|attack[<TAB>label] per line, in addition to --live/--attack')
      .option('--video-fps <n>', 'frames per second taken from videos', positive('--video-fps'), captureDefaults.fps)
      .addHelpText(
        'after',
        `
A video is one track, a folder's images are one track (each sub-folder its own), an image
a track of one frame; a track's score is the mean live probability of its frames.
Videos are decoded with ffmpeg, which must be installed. The largest face of each frame
is checked. The threshold is liveness.threshold from the config, else 0.5. The scorer is
MiniFASNet (both models of the manifest, softmax averaged), until the gate's own liveness
check replaces it.`,
      ),
  ).action(
    evalAction(async (opts: PadOpts) => {
      assertCommandLineFits(LONG_HINT);
      const ctx = resolveContext(opts);
      const args = [...opts.live.map((a) => ({ a, attack: false })), ...opts.attack.map((a) => ({ a, attack: true }))].map(({ a, attack }) => ({ ...parseSourceArg(a, existsSync), attack }));
      if (opts.list) {
        for (const r of await readList(opts.list)) {
          const kind = r.columns[0];
          if (kind !== 'live' && kind !== 'attack') throw new EvalInputError('bad_list', `${opts.list}: "${r.path}" needs a second column live or attack`);
          args.push({ label: r.columns[1] ?? r.path, path: r.path, attack: kind === 'attack' });
        }
      }
      if (!args.some((s) => !s.attack) || !args.some((s) => s.attack)) throw new UsageError('pass at least one --live and one --attack path (or a --list with both)');
      const sources: PadSource[] = [];
      for (const s of args) {
        const tracks = await tracksAt(s.path);
        if (tracks.length === 0) throw new EvalInputError('empty', `${s.path} holds no image or video`);
        const same = sources.find((x) => x.label === s.label && x.attack === s.attack);
        if (same) same.tracks.push(...tracks);
        else sources.push({ label: s.label, attack: s.attack, tracks });
      }
      const { pipeline } = await createPipeline(ctx.config, ctx.modelsDir);
      // The gate's own liveness check and threshold: the evaluation measures what the gate runs.
      const scorer = await createLivenessCheck(ctx.modelsDir, ctx.config.liveness, { threads: inProcessThreads(ctx.config), verifyHashes: ctx.config.models.verifyHashes });
      await pipeline.start();
      try {
        await scorer.start();
        const bar = progress('tracks', sources.reduce((n, s) => n + s.tracks.length, 0), opts.json);
        const report = await evaluatePad(sources, {
          pipeline,
          scorer,
          config: ctx.config,
          threshold: ctx.config.liveness.threshold,
          videoFps: opts.videoFps,
          onTrack: bar.tick,
        });
        bar.stop();
        printPad(report, opts);
      } finally {
        await scorer.stop();
        await pipeline.stop();
      }
    }),
  );
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}
