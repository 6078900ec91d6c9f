// `eval verify`: labelled pairs of images (same person or not), compared as `compare`
// does (cosine of the two embeddings, accepted at >= match.threshold).
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { cosine } from '../vision/embedder.js';
import type { ImageEmbedding } from './embeddings.js';
import { EvalInputError } from './inputs.js';
import { bestThreshold, tarAtFar, verificationAt, type ScoredPair, type TarAtFar, type VerificationAt } from './metrics.js';

export interface LabelledPair {
  /** The two images as the pairs file names them (what reports show). */
  a: string;
  b: string;
  same: boolean;
  /** Where they are read from. */
  aPath: string;
  bPath: string;
}

const YES = new Set(['yes', 'y', 'true', '1', 'same']);
const NO = new Set(['no', 'n', 'false', '0', 'different']);

/**
 * Pairs from a tab- or comma-separated file with the columns a, b, same (yes/no, 1/0,
 * true/false); a header line naming them is skipped. Relative image paths are taken from
 * `imagesDir`, by default the pairs file's folder (pure apart from the paths).
 */
export function parsePairs(text: string, file: string, imagesDir?: string): LabelledPair[] {
  const base = resolve(imagesDir ?? dirname(file));
  const out: LabelledPair[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const cols = line.split(line.includes('\t') ? '\t' : ',').map((c) => c.trim());
    if (i === 0 && cols[0]?.toLowerCase() === 'a') return;
    const [a, b, s] = cols;
    const same = s === undefined ? undefined : YES.has(s.toLowerCase()) ? true : NO.has(s.toLowerCase()) ? false : undefined;
    if (!a || !b || same === undefined) {
      throw new EvalInputError('bad_pairs', `${file}:${i + 1}: expected "a<TAB>b<TAB>yes|no", got "${line.slice(0, 80)}"`);
    }
    const at = (p: string) => (isAbsolute(p) ? p : join(base, p));
    out.push({ a, b, same, aPath: at(a), bPath: at(b) });
  });
  if (out.length === 0) throw new EvalInputError('empty', `${file} holds no pair; write one "a<TAB>b<TAB>yes|no" per line`);
  return out;
}

export async function readPairs(file: string, imagesDir?: string): Promise<LabelledPair[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new EvalInputError('not_found', `pairs file ${file} cannot be read; check the path`);
  }
  return parsePairs(text, file, imagesDir);
}

export interface FailedPair {
  a: string;
  b: string;
  same: boolean;
  similarity: number;
}

export interface VerifyReport {
  pairs: number;
  genuine: number;
  impostor: number;
  /** Pairs left out because one image had no face or could not be read. */
  skipped: { noFace: number; unreadable: number };
  threshold: number;
  atThreshold: VerificationAt;
  best: { threshold: number; accuracy: number } | null;
  tarAtFar: TarAtFar[];
  /** Wrongly decided pairs at the configured threshold, worst first. */
  failures: FailedPair[];
}

export const FARS = [1e-2, 1e-3];

/** Scores every pair with `embed` (cached per image by the caller) and computes the report. */
export async function evaluatePairs(
  pairs: readonly LabelledPair[],
  embed: (path: string) => Promise<ImageEmbedding>,
  threshold: number,
  onPair: () => void = () => {},
): Promise<VerifyReport> {
  const scored: (ScoredPair & LabelledPair)[] = [];
  const skipped = { noFace: 0, unreadable: 0 };
  for (const p of pairs) {
    const ea = await embed(p.aPath);
    const eb = await embed(p.bPath);
    onPair();
    if (ea.status === 'error' || eb.status === 'error') skipped.unreadable++;
    else if (ea.status === 'no_face' || eb.status === 'no_face') skipped.noFace++;
    else scored.push({ ...p, similarity: cosine(ea.face.embedding, eb.face.embedding) });
  }
  const failures = scored
    .filter((p) => (p.similarity >= threshold) !== p.same)
    .map((p) => ({ a: p.a, b: p.b, same: p.same, similarity: p.similarity }))
    .sort((x, y) => Math.abs(y.similarity - threshold) - Math.abs(x.similarity - threshold));
  return {
    pairs: scored.length,
    genuine: scored.filter((p) => p.same).length,
    impostor: scored.filter((p) => !p.same).length,
    skipped,
    threshold,
    atThreshold: verificationAt(scored, threshold),
    best: bestThreshold(scored),
    tarAtFar: FARS.map((f) => tarAtFar(scored, f)),
    failures,
  };
}
