// Shared test fixtures: the real pipeline on ../shared/models, the photo sets.
import { readdirSync, statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/types.js';
import { createPipeline, type PipelineInfo } from '../src/vision/factory.js';
import { SHARED_FACES, SHARED_MODELS } from './paths.js';

export function defaultConfig(overrides: Record<string, unknown> = {}): Config {
  return loadConfig({ file: null, env: {}, overrides });
}

export async function startPipeline(overrides: Record<string, unknown> = {}): Promise<PipelineInfo> {
  const info = await createPipeline(defaultConfig(overrides), SHARED_MODELS);
  await info.pipeline.start();
  return info;
}

export interface Photo {
  identity: string;
  path: string;
  name: string;
}

/** Every single-person photo of bbt/ and people/, the folder name being the identity. */
export function identityPhotos(): Photo[] {
  const out: Photo[] = [];
  for (const set of ['bbt', 'people']) {
    const dir = join(SHARED_FACES, set);
    for (const identity of readdirSync(dir).sort()) {
      const idDir = join(dir, identity);
      if (identity === 'groups' || !statSync(idDir).isDirectory()) continue;
      for (const f of readdirSync(idDir).sort()) out.push({ identity, path: join(idDir, f), name: `${identity}/${f}` });
    }
  }
  return out;
}

export const readPhoto = (p: string): Buffer => readFileSync(p);
