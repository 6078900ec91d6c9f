// Builds the face pipeline from the config: models looked up in the manifest,
// files checked, sessions created once in start(). createPipeline: in this thread (the
// CLI's one-shot commands, the benchmarks of the models alone). createAnalyzer: in the
// inference worker when vision.inferenceWorker is on (the daemon, serve, and every
// command that starts the recognition half), so inference never holds the event loop.
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

async function modelOptions(config: Config, modelsDir: string): Promise<ModelOptions> {
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
      threads: config.models.threads,
    },
    embedder: {
      modelPath: await locateModel(modelsDir, emb, check),
      threads: config.models.threads,
      maxBatch: config.vision.maxEmbedBatch,
    },
    detectorId: det.id,
    embedderId: emb.id,
  };
}

export async function createPipeline(config: Config, modelsDir: string): Promise<PipelineInfo> {
  const m = await modelOptions(config, modelsDir);
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
  const m = await modelOptions(config, modelsDir);
  const v = config.vision;
  const pipeline = new WorkerPipeline(
    { detector: m.detector, embedder: m.embedder, liveness: liveness && { models: liveness, threads: config.models.threads }, maxImagePixels: v.maxImagePixels },
    { lanes: { passageHoldMs: v.passageHoldMs, apiMaxWaitMs: v.apiMaxWaitMs, backgroundMaxWaitMs: v.backgroundMaxWaitMs }, workers: v.inferenceWorkers, restartMinMs: v.workerRestartMinMs, restartMaxMs: v.workerRestartMaxMs, decode: { maxPixels: v.maxImagePixels } },
  );
  return { pipeline, detectorId: m.detectorId, embedderId: m.embedderId };
}
