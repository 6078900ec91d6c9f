// The recognition half of the agent (store, models, galleries), built in one place
// for the CLI commands, the identity endpoint and the daemon.
import type { Config } from '../config/types.js';
import { Galleries } from '../match/galleries.js';
import { Recognizer } from '../match/recognizer.js';
import type { AttendeeStore } from '../store/attendees.js';
import { openStore } from '../store/open.js';
import { createPipeline } from '../vision/factory.js';
import type { FacePipeline } from '../vision/pipeline.js';
import { modelById } from '../models/manifest.js';

export interface Recognition {
  config: Config;
  store: AttendeeStore;
  pipeline: FacePipeline;
  galleries: Galleries;
  recognizer: Recognizer;
  embedderId: string;
  stop(): Promise<void>;
}

export async function startRecognition(config: Config, modelsDir: string, dataDir: string): Promise<Recognition> {
  const store = openStore(config, dataDir);
  try {
    const { pipeline, embedderId } = await createPipeline(config, modelsDir);
    await pipeline.start();
    const galleries = new Galleries(store, {
      modelId: embedderId,
      dim: modelById(embedderId).embeddingSize ?? 512,
      threads: config.match.threads,
      rescoreTop: config.match.rescoreTop,
      templates: config.identification.templates,
    });
    galleries.start();
    return {
      config,
      store,
      pipeline,
      galleries,
      embedderId,
      recognizer: new Recognizer(pipeline, galleries, store, config),
      async stop() {
        await galleries.stop();
        await pipeline.stop();
        store.db.close();
      },
    };
  } catch (err) {
    store.db.close();
    throw err;
  }
}
