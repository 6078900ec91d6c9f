// The recognition half of the agent (store, models, galleries, the liveness check), built
// in one place for the CLI commands, the identity endpoint and the daemon.
import type { Config } from '../config/types.js';
import { createLivenessCheck, type MiniFasnetLivenessCheck } from '../gate/liveness.js';
import { Galleries } from '../match/galleries.js';
import { Recognizer } from '../match/recognizer.js';
import type { AttendeeStore } from '../store/attendees.js';
import { openStore } from '../store/open.js';
import { createPipeline } from '../vision/factory.js';
import type { FacePipeline } from '../vision/pipeline.js';
import { modelById } from '../models/manifest.js';
import { threadBudget } from './thread-budget.js';

export interface Recognition {
  config: Config;
  store: AttendeeStore;
  pipeline: FacePipeline;
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
  try {
    const { pipeline, embedderId } = await createPipeline(config, modelsDir);
    if (config.liveness.mode !== 'off') {
      liveness = await createLivenessCheck(modelsDir, config.liveness, { threads: config.models.threads, verifyHashes: config.models.verifyHashes });
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
    return {
      config,
      store,
      pipeline,
      galleries,
      embedderId,
      liveness,
      recognizer: new Recognizer(pipeline, galleries, store, config),
      async stop() {
        await galleries.stop();
        await liveness?.stop();
        await pipeline.stop();
        store.db.close();
      },
    };
  } catch (err) {
    await liveness?.stop();
    store.db.close();
    throw err;
  }
}
