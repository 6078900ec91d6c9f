// The model manifest (models/manifest.json): what each supported model is, its
// SHA-256 and its input contract. Model files themselves are never committed.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';

export type ModelRole = 'detector' | 'embedder' | 'liveness';

export interface ModelEntry {
  id: string;
  file: string;
  role: ModelRole;
  /** null: not pinned (see docs/models.md); verification then reports the hash seen. */
  sha256: string | null;
  input: { name: string; layout: 'NCHW'; colour: 'RGB' | 'BGR'; sizePx: number[]; mean: number; std: number; cropScale?: number };
  embeddingSize?: number;
  licence: string;
  source: string;
}

export interface PackEntry {
  url: string | null;
  /** file name inside the pack -> model id */
  files: Record<string, string>;
}

export interface Manifest {
  models: ModelEntry[];
  packs: Record<string, PackEntry>;
}

export const MANIFEST_URL = new URL('../../../models/manifest.json', import.meta.url);
/** The project's own models/ folder, the last place model files are looked for. */
export const PROJECT_MODELS_DIR = new URL('../../../models/', import.meta.url).pathname;

let cached: Manifest | undefined;
export function loadManifest(): Manifest {
  cached ??= JSON.parse(readFileSync(MANIFEST_URL, 'utf8')) as Manifest;
  return cached;
}

export function modelById(id: string, role?: ModelRole): ModelEntry {
  const m = loadManifest().models.find((e) => e.id === id);
  const known = loadManifest()
    .models.filter((e) => !role || e.role === role)
    .map((e) => e.id)
    .join(', ');
  if (!m) throw new Error(`unknown model id "${id}"; known ${role ?? ''} models: ${known}`);
  if (role && m.role !== role) throw new Error(`model "${id}" is a ${m.role}, not a ${role}; use one of: ${known}`);
  return m;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export class ModelFileError extends Error {
  override name = 'ModelFileError';
  /** true: a model file is missing or wrong, and installing the config's models fixes it (the CLI adds that command). */
  constructor(message: string, readonly fixedByPull = false) {
    super(message);
  }
}

/** Path of a model file in `dir`, checked to exist and (when `checkHash`) to have the manifest's SHA-256. */
export async function locateModel(dir: string, m: ModelEntry, checkHash: boolean): Promise<string> {
  const path = join(dir, m.file);
  if (!existsSync(path)) {
    throw new ModelFileError(
      `model file ${path} is missing (model ${m.id}, expected SHA-256 ${m.sha256 ?? 'not pinned'})`,
      true,
    );
  }
  if (checkHash && m.sha256) {
    const seen = await sha256File(path);
    if (seen !== m.sha256) {
      throw new ModelFileError(
        `model file ${path} has SHA-256 ${seen}, expected ${m.sha256} (model ${m.id}); the file is damaged or a different model`,
        true,
      );
    }
  }
  return path;
}
