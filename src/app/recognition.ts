// The recognition half of the agent (store, models, galleries, the liveness check), built
// in one place for the CLI commands, the identity endpoint and the daemon. The face models
// run in the inference worker when vision.inferenceWorker is on (vision/factory.ts).
import type { Config } from '../config/types.js';
import { createLivenessCheck, livenessModels, type MiniFasnetLivenessCheck } from '../gate/liveness.js';
import { Galleries } from '../match/galleries.js';
import { Recognizer } from '../match/recognizer.js';
import type { AttendeeStore } from '../store/attendees.js';
import { openStore } from '../store/open.js';
import { createAnalyzer, modelThreads } from '../vision/factory.js';
import type { FaceAnalyzer } from '../vision/pipeline.js';
import { WorkerPipeline } from '../vision/worker-pipeline.js';
import { modelById } from '../models/manifest.js';
import { threadBudget } from './thread-budget.js';

export interface Recognition {
  config: Config;
  store: AttendeeStore;
  /** A WorkerPipeline (vision.inferenceWorker on, the default) or the in-process FacePipeline. */
  pipeline: FaceAnalyzer;
  galleries: Galleries;
  recognizer: Recognizer;
  /** null when config.liveness.mode is off. */
  liveness: MiniFasnetLivenessCheck | null;
  embedderId: string;
  stop(): Promise<void>;
}

export async function startRecognition(config: Config, modelsDir: string, dataDir: string): Promise<Recognition> {
  const store = openStore(config, dataDir);
  let liveness: MiniFasnetLivenessCheck | null = null;
  let pipeline: FaceAnalyzer | null = null;
  try {
    const live = config.liveness.mode !== 'off' ? await livenessModels(modelsDir, config.liveness, config.models.verifyHashes) : null;
    const created = await createAnalyzer(config, modelsDir, live);
    pipeline = created.pipeline;
    const { embedderId } = created;
    if (config.liveness.mode !== 'off') {
      const scorer = pipeline instanceof WorkerPipeline ? pipeline.livenessScorer() : undefined;
      liveness = await createLivenessCheck(modelsDir, config.liveness, { threads: modelThreads(config), verifyHashes: config.models.verifyHashes }, scorer);
    }
    await pipeline.start();
    await liveness?.start();
    const galleries = new Galleries(store, {
      modelId: embedderId,
      dim: modelById(embedderId).embeddingSize ?? 512,
      threads: config.match.threads,
      rescoreTop: config.match.rescoreTop,
      templates: config.identification.templates,
      loadWorkers: threadBudget({ imageThreads: config.vision.imageThreads, loadWorkers: config.match.loadWorkers }).loadWorkers,
    });
    galleries.start();
    const started = pipeline;
    return {
      config,
      store,
      pipeline: started,
      galleries,
      embedderId,
      liveness,
      recognizer: new Recognizer(started, galleries, store, config),
      async stop() {
        await galleries.stop();
        await liveness?.stop();
        await started.stop();
        store.db.close();
      },
    };
  } catch (err) {
    await liveness?.stop();
    await pipeline?.stop().catch(() => undefined);
    store.db.close();
    throw err;
  }
}
