// Builds the face pipeline from the config: models looked up in the manifest,
// files checked, sessions created once in start(). createPipeline: in this thread (the
// CLI's one-shot commands, the benchmarks of the models alone). createAnalyzer: in the
// inference worker when vision.inferenceWorker is on (the daemon, serve, and every
// command that starts the recognition half), so inference never holds the event loop.
import { availableParallelism } from 'node:os';
import type { Config } from '../config/types.js';
import { locateModel, modelById } from '../models/manifest.js';
import { ScrfdDetector, type ScrfdOptions } from './detector.js';
import { ArcfaceEmbedder, type ArcfaceOptions } from './embedder.js';
import type { MiniFasnetModel } from './minifasnet.js';
import { FacePipeline, type FaceAnalyzer } from './pipeline.js';
import { WorkerPipeline } from './worker-pipeline.js';

export interface PipelineInfo {
  pipeline: FacePipeline;
  detectorId: string;
  /** Every embedding this pipeline makes is tagged with this id. */
  embedderId: string;
}

interface ModelOptions {
  detector: ScrfdOptions;
  embedder: ArcfaceOptions;
  detectorId: string;
  embedderId: string;
}

/** Most onnxruntime threads a derived setting gives one model run: these small models gain little past that. */
const MAX_DERIVED_THREADS = 4;

/**
 * onnxruntime intra-op threads per model run: models.threads, or when it is 0, the cores
 * shared among the inference workers that run at once (at least 1, at most 4). In this
 * thread (the one-shot CLI commands, vision.inferenceWorker off) one run at a time: the
 * cores. The measurement behind it is in docs/benchmarks.md (bench:gate, thread budget).
 */
export function modelThreads(config: Config, cores = availableParallelism()): number {
  if (config.models.threads > 0) return config.models.threads;
  const workers = config.vision.inferenceWorker ? config.vision.inferenceWorkers : 1;
  return Math.max(1, Math.min(MAX_DERIVED_THREADS, Math.floor(cores / workers)));
}

/** The same for the one-shot commands, whose models run in their own thread, one run at a time. */
export function inProcessThreads(config: Config): number {
  return config.models.threads > 0 ? config.models.threads : Math.max(1, Math.min(MAX_DERIVED_THREADS, availableParallelism()));
}

async function modelOptions(config: Config, modelsDir: string, threads: number): Promise<ModelOptions> {
  const det = modelById(config.models.detector, 'detector');
  const emb = modelById(config.models.embedder, 'embedder');
  const check = config.models.verifyHashes;
  return {
    detector: {
      modelPath: await locateModel(modelsDir, det, check),
      inputPx: config.models.detectorInputPx,
      scoreThreshold: config.vision.scoreThreshold,
      nmsIou: config.vision.nmsIou,
      emptyRetryPadRatio: config.vision.emptyRetryPadRatio,
      atImageSize: config.vision.detectAtImageSize,
      threads,
    },
    embedder: {
      modelPath: await locateModel(modelsDir, emb, check),
      threads,
      maxBatch: config.vision.maxEmbedBatch,
    },
    detectorId: det.id,
    embedderId: emb.id,
  };
}

export async function createPipeline(config: Config, modelsDir: string): Promise<PipelineInfo> {
  const m = await modelOptions(config, modelsDir, inProcessThreads(config));
  return {
    pipeline: new FacePipeline(new ScrfdDetector(m.detector), new ArcfaceEmbedder(m.embedder), { maxPixels: config.vision.maxImagePixels }),
    detectorId: m.detectorId,
    embedderId: m.embedderId,
  };
}

export interface AnalyzerInfo {
  /** A WorkerPipeline when vision.inferenceWorker is on, else a FacePipeline. */
  pipeline: FaceAnalyzer;
  detectorId: string;
  embedderId: string;
}

/**
 * The pipeline for long-running work. In the worker, the liveness models (`liveness`,
 * resolved by the caller; null when off) load there too: WorkerPipeline.livenessScorer().
 */
export async function createAnalyzer(config: Config, modelsDir: string, liveness: MiniFasnetModel[] | null): Promise<AnalyzerInfo> {
  if (!config.vision.inferenceWorker) {
    const { pipeline, detectorId, embedderId } = await createPipeline(config, modelsDir);
    return { pipeline, detectorId, embedderId };
  }
  const threads = modelThreads(config);
  const m = await modelOptions(config, modelsDir, threads);
  const v = config.vision;
  const pipeline = new WorkerPipeline(
    { detector: m.detector, embedder: m.embedder, liveness: liveness && { models: liveness, threads }, maxImagePixels: v.maxImagePixels },
    { lanes: { passageHoldMs: v.passageHoldMs, apiMaxWaitMs: v.apiMaxWaitMs, backgroundMaxWaitMs: v.backgroundMaxWaitMs }, workers: v.inferenceWorkers, restartMinMs: v.workerRestartMinMs, restartMaxMs: v.workerRestartMaxMs, decode: { maxPixels: v.maxImagePixels } },
  );
  return { pipeline, detectorId: m.detectorId, embedderId: m.embedderId };
}
