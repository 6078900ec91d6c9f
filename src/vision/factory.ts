// Builds the face pipeline from the config: models looked up in the manifest,
// files checked, sessions created once in start().
import type { Config } from '../config/types.js';
import { locateModel, modelById } from '../models/manifest.js';
import { ScrfdDetector } from './detector.js';
import { ArcfaceEmbedder } from './embedder.js';
import { FacePipeline } from './pipeline.js';

export interface PipelineInfo {
  pipeline: FacePipeline;
  detectorId: string;
  /** Every embedding this pipeline makes is tagged with this id. */
  embedderId: string;
}

export async function createPipeline(config: Config, modelsDir: string): Promise<PipelineInfo> {
  const det = modelById(config.models.detector, 'detector');
  const emb = modelById(config.models.embedder, 'embedder');
  const check = config.models.verifyHashes;
  const detector = new ScrfdDetector({
    modelPath: await locateModel(modelsDir, det, check),
    inputPx: config.models.detectorInputPx,
    scoreThreshold: config.vision.scoreThreshold,
    nmsIou: config.vision.nmsIou,
    emptyRetryPadRatio: config.vision.emptyRetryPadRatio,
    threads: config.models.threads,
  });
  const embedder = new ArcfaceEmbedder({
    modelPath: await locateModel(modelsDir, emb, check),
    threads: config.models.threads,
    maxBatch: config.vision.maxEmbedBatch,
  });
  return {
    pipeline: new FacePipeline(detector, embedder, { maxPixels: config.vision.maxImagePixels }),
    detectorId: det.id,
    embedderId: emb.id,
  };
}
