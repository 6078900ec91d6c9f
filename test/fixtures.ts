// Shared test fixtures: the real pipeline on ../shared/models, the photo sets.
import { readFileSync } from 'node:fs';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/types.js';
import { createPipeline, type PipelineInfo } from '../src/vision/factory.js';
import { SHARED_MODELS } from './paths.js';

export function defaultConfig(overrides: Record<string, unknown> = {}): Config {
  return loadConfig({ file: null, env: {}, overrides });
}

export async function startPipeline(overrides: Record<string, unknown> = {}): Promise<PipelineInfo> {
  const info = await createPipeline(defaultConfig(overrides), SHARED_MODELS);
  await info.pipeline.start();
  return info;
}

export { identityPhotos, type Photo } from '../scripts/photos.js';

export const readPhoto = (p: string): Buffer => readFileSync(p);
