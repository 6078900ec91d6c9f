// `models verify`: hash of every model file present, and one inference each.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createSession, ort } from './ort.js';
import { loadManifest, sha256File, type ModelEntry } from './manifest.js';
import { errorText } from '../errors.js';

export interface ModelCheck {
  id: string;
  file: string;
  role: string;
  status: 'ok' | 'missing' | 'hash_mismatch' | 'unpinned' | 'inference_failed';
  required: boolean;
  sha256?: string;
  expectedSha256: string | null;
  inferenceMs?: number;
  detail?: string;
}

/** Run the model once on a zero input of its declared shape (dynamic dims from the manifest). */
async function inferOnce(path: string, m: ModelEntry): Promise<number> {
  const s = await createSession(path, { threads: 1 });
  try {
    const size = m.input.sizePx[m.input.sizePx.length - 1] ?? 112;
    const t0 = performance.now();
    await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', new Float32Array(3 * size * size), [1, 3, size, size]) });
    return performance.now() - t0;
  } finally {
    await s.release();
  }
}

/** `fix`: the command that installs the required models (printed for a missing one). */
export async function verifyModels(modelsDir: string, required: string[], fix = 'gate-agent models pull'): Promise<ModelCheck[]> {
  const out: ModelCheck[] = [];
  for (const m of loadManifest().models) {
    const path = join(modelsDir, m.file);
    const base = { id: m.id, file: path, role: m.role, required: required.includes(m.id), expectedSha256: m.sha256 };
    if (!existsSync(path)) {
      out.push({ ...base, status: 'missing', detail: base.required ? `not installed; \`${fix}\` installs it` : 'not installed (this config does not use it)' });
      continue;
    }
    const sha256 = await sha256File(path);
    if (m.sha256 && sha256 !== m.sha256) {
      out.push({ ...base, sha256, status: 'hash_mismatch', detail: `damaged or a different model; \`${fix}\` replaces it` });
      continue;
    }
    try {
      const inferenceMs = await inferOnce(path, m);
      out.push({ ...base, sha256, inferenceMs, status: m.sha256 ? 'ok' : 'unpinned', ...(m.sha256 ? {} : { detail: 'no pinned hash in the manifest; compare the SHA-256 with a trusted copy' }) });
    } catch (err) {
      out.push({ ...base, sha256, status: 'inference_failed', detail: errorText(err).split('\n')[0] });
    }
  }
  return out;
}
