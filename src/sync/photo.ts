// Photos the central server sends instead of an embedding for this gate's model:
// fetched by the FetchPhoto the composition root hands over (the API's SSRF-safe
// fetcher, src/api/photo-fetcher.ts) and embedded by the local pipeline.
// A photo that can never work (HTTP 404, not an image, no usable face) is a
// problem of that one attendee; a photo that failed for a passing reason
// (timeout, connection, HTTP 5xx) fails the page so a later try gets it.
import type { Config } from '../config/types.js';
import type { FaceAnalyzer } from '../vision/pipeline.js';

export type PhotoOutcome = { ok: true; vector: Float32Array; quality: number } | { ok: false; reason: string };

/** Embed the one face of an attendee's photo, or say why it cannot be used. */
export type EmbedPhoto = (image: Buffer) => Promise<PhotoOutcome>;

/** Download a photo; throws PhotoRejected when retrying cannot help, SyncError when it may. */
export type FetchPhoto = (url: URL, signal?: AbortSignal) => Promise<Buffer>;

export class PhotoRejected extends Error {
  override name = 'PhotoRejected';
}

export function pipelineEmbedder(pipeline: FaceAnalyzer, quality: Config['quality']): EmbedPhoto {
  return async (image) => {
    let res;
    try {
      res = await pipeline.analyzeEncoded(image, { embed: true, maxEmbedFaces: 1 });
    } catch (err) {
      if (err instanceof Error && err.name === 'ImageError') return { ok: false, reason: `photo cannot be decoded: ${err.message}` };
      throw err;
    }
    // Faces come largest first; an enrollment photo shows one person.
    const f = res.faces[0];
    if (!f?.embedding) return { ok: false, reason: 'no face found in the photo' };
    if (f.interEyePx < quality.minInterEyePx) return { ok: false, reason: `face too small (${f.interEyePx.toFixed(0)} px between the eyes, quality.minInterEyePx ${quality.minInterEyePx})` };
    if (Math.abs(f.yawDeg) > quality.maxYawDeg) return { ok: false, reason: `head turned too far (${f.yawDeg.toFixed(0)}°, quality.maxYawDeg ${quality.maxYawDeg})` };
    if (f.sharpness < quality.minSharpness) return { ok: false, reason: `photo too blurred (sharpness ${f.sharpness.toFixed(0)}, quality.minSharpness ${quality.minSharpness})` };
    return { ok: true, vector: f.embedding, quality: f.score };
  };
}
