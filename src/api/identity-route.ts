// POST /identity: the checks in the order a caller should meet them. The
// client-address bucket comes before authentication so key guessing is
// throttled too; parameters are checked before the event so a typo gets a
// 422 that names it rather than a misleading 404.
import { ImageError } from '../vision/image.js';
import type { RgbImage } from '../vision/types.js';
import type { Admission } from './admission.js';
import type { CameraPriority } from './camera-priority.js';
import { VisionBusyError } from '../vision/lanes.js';
import { InferenceUnavailableError } from '../vision/worker-pipeline.js';
import { DecodeStarvedError, type ImageDecoder } from './decode-pool.js';
import { ApiError } from './errors.js';
import { imageSize } from './image-header.js';
import type { ApiKeyStore, IdentityService } from './identity-service.js';
import { loadImage, parseImageUrl, type ImageScheme, type ImageSourceOptions } from './image-source.js';
import type { Counter, Histogram } from './metrics.js';
import type { TokenBuckets } from './rate-limit.js';
import type { FairShareBucket } from './fair-share.js';
import type { AttendeeSession } from '../store/session-types.js';

export interface IdentityRouteDeps {
  identity: IdentityService;
  keys: ApiKeyStore;
  images: ImageSourceOptions;
  perKey: TokenBuckets;
  perIp: TokenBuckets;
  /** One bucket for everyone, shared fairly between keys: rotating addresses and keys does not multiply the rate. */
  total: FairShareBucket;
  limits: { perKeyPerSec: number; perKeyBurst: number; perIpPerSec: number; perIpBurst: number; totalPerSec: number; totalBurst: number };
  admission: Admission;
  /** Decodes (and downscales) images before recognition; absent: the service gets the bytes. */
  decoder?: ImageDecoder;
  /** API recognition waits for a gap between camera frames. */
  priority?: CameraPriority;
  outcomes: Counter;
  stageSeconds: Histogram;
}

export interface IdentityRequest {
  clientIp: string;
  apiKey: string | string[] | undefined;
  query: unknown;
}

/** What may be logged about a request: no key, no image, no session. */
export interface IdentityAudit {
  apiKeyName?: string;
  eventId?: string;
  imageScheme?: ImageScheme;
  imageHost?: string;
  outcome?: string;
}

const MAX_EVENT_ID_CHARS = 200;
const USAGE = 'call POST /identity?event_id=<event>&image_url=<percent-encoded image URL> with the x-api-key header';

function takeToken(buckets: TokenBuckets, id: string, what: string, perSec: number, burst: number): void {
  const waitSec = buckets.take(id);
  if (waitSec > 0) {
    const retry = Math.max(1, Math.ceil(waitSec));
    throw new ApiError(429, `too many requests from this ${what}: the limit is ${perSec}/s with bursts of ${burst}; retry after ${retry} s`, {
      'retry-after': String(retry),
    });
  }
}

/** The gate-wide bucket, shared between the keys sending now (fair-share.ts). */
function takeShare(bucket: FairShareBucket, keyName: string, perSec: number, burst: number): void {
  const refused = bucket.take(keyName);
  if (!refused) return;
  const retry = Math.max(1, Math.ceil(refused.waitSec));
  const shared = refused.active > 1 ? `, shared between the ${refused.active} API keys sending now, and this key has used its share` : '';
  throw new ApiError(429, `too many requests from this gate (all clients together): the limit is ${perSec}/s with bursts of ${burst}${shared}; retry after ${retry} s`, {
    'retry-after': String(retry),
  });
}

function singleParam(query: Record<string, unknown>, name: string): string {
  const v = query[name];
  if (v === undefined) throw new ApiError(422, `missing query parameter ${name}; ${USAGE}`);
  if (Array.isArray(v)) throw new ApiError(422, `query parameter ${name} is given ${v.length} times; give it exactly once`);
  if (typeof v !== 'string' || v.trim() === '') throw new ApiError(422, `query parameter ${name} is empty; ${USAGE}`);
  return v;
}

export function readParams(query: unknown): { eventId: string; imageUrl: string; scheme: ImageScheme; host: string } {
  const q = (query !== null && typeof query === 'object' ? query : {}) as Record<string, unknown>;
  const eventId = singleParam(q, 'event_id');
  const imageUrl = singleParam(q, 'image_url');
  // eslint-disable-next-line no-control-regex
  if (eventId.length > MAX_EVENT_ID_CHARS || /[\u0000-\u001f\u007f]/.test(eventId)) {
    throw new ApiError(422, `query parameter event_id is malformed (over ${MAX_EVENT_ID_CHARS} characters or control characters); pass the event's identifier as issued by Securegate`);
  }
  const { url, scheme } = parseImageUrl(imageUrl);
  return { eventId, imageUrl, scheme, host: url.host };
}

export async function handleIdentity(deps: IdentityRouteDeps, req: IdentityRequest, audit: IdentityAudit): Promise<AttendeeSession> {
  const { limits } = deps;
  takeToken(deps.perIp, req.clientIp, 'client address', limits.perIpPerSec, limits.perIpBurst);
  if (typeof req.apiKey !== 'string' || req.apiKey === '') {
    throw new ApiError(401, 'missing x-api-key header; send the API key issued for this client (an operator creates one with `gate-agent keys create --name <label>`)');
  }
  const who = deps.keys.verify(req.apiKey);
  if (!who) {
    throw new ApiError(401, 'the x-api-key is not valid on this gate (unknown or revoked); check the key, or ask the operator for a new one (`gate-agent keys create`)');
  }
  audit.apiKeyName = who.name;
  takeToken(deps.perKey, who.name, 'API key', limits.perKeyPerSec, limits.perKeyBurst);
  takeShare(deps.total, who.name, limits.totalPerSec, limits.totalBurst);

  const params = readParams(req.query);
  audit.eventId = params.eventId;
  audit.imageScheme = params.scheme;
  if (params.scheme === 'http' || params.scheme === 'https') audit.imageHost = params.host;
  if (!deps.identity.hasEvent(params.eventId)) {
    throw new ApiError(404, `event ${JSON.stringify(params.eventId)} is not known to this gate; check event_id, or wait for the attendee sync to bring the event in`);
  }

  const image = await deps.stageSeconds.time({ stage: 'image_load' }, () => loadImage(params.imageUrl, deps.images));
  const size = imageSize(image);
  if (!size && deps.decoder) throw new ApiError(415, 'the image header could not be read (no width and height); send a complete JPEG, PNG or WebP file');
  // Charged before any decoder runs: what an image will cost is in its header.
  const release = await deps.stageSeconds.time({ stage: 'queue' }, () => deps.admission.acquire(size ? size.width * size.height : 0, who.name));
  let outcome;
  try {
    let input: Buffer | RgbImage = image;
    if (deps.decoder) {
      const decoder = deps.decoder;
      try {
        input = await deps.stageSeconds.time({ stage: 'decode' }, () => decoder.decode(image));
      } catch (err) {
        if (err instanceof ImageError) {
          deps.outcomes.inc({ outcome: 'bad_image' });
          audit.outcome = 'bad_image';
          throw new ApiError(415, `the image could not be decoded (${err.message}); send a complete JPEG, PNG or WebP file`);
        }
        if (err instanceof DecodeStarvedError) {
          const retry = Math.max(1, Math.ceil(err.wallTimeoutMs / 1000));
          throw new ApiError(503, `the gate is busy (the image decode got too little CPU time within ${err.wallTimeoutMs} ms: the gate's camera comes first); retry after ${retry} s`, { 'retry-after': String(retry) });
        }
        throw new ApiError(503, 'image decoding failed on the gate; retry, and tell the gate operator if it keeps failing', {}, err);
      }
    }
    await deps.priority?.waitTurn();
    outcome = await deps.stageSeconds.time({ stage: 'identify' }, () =>
      deps.identity.identify(params.eventId, input, { source: 'api', apiKeyName: who.name }),
    );
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof VisionBusyError) {
      // The camera kept the face models busy (a passage): a deliberate refusal, not a fault.
      deps.outcomes.inc({ outcome: 'busy' });
      audit.outcome = 'busy';
      throw new ApiError(503, `the gate is busy: ${err.message}`, { 'retry-after': String(err.retryAfterS) });
    }
    deps.outcomes.inc({ outcome: 'error' });
    if (err instanceof InferenceUnavailableError) {
      throw new ApiError(503, `the gate cannot recognise faces right now (${err.message}); retry after ${err.retryAfterS} s`, { 'retry-after': String(err.retryAfterS) }, err);
    }
    throw new ApiError(503, 'recognition failed on the gate; retry, and tell the gate operator if it keeps failing', {}, err);
  } finally {
    release();
  }
  audit.outcome = outcome.kind;
  deps.outcomes.inc({ outcome: outcome.kind });
  switch (outcome.kind) {
    case 'match':
      return outcome.session;
    case 'no_face':
      throw new ApiError(422, 'no face was found in the image; send a frame where one face is visible, frontal and well lit');
    case 'unknown':
      throw new ApiError(404, `the face matches no registered attendee of event ${JSON.stringify(params.eventId)} (${outcome.reason}); the person is not registered for this event, send them to manual check-in`);
    case 'not_live':
      throw new ApiError(422, `the face in the image did not pass the liveness check (score ${outcome.score.toFixed(2)}): it looks like a photo or a screen rather than a person in front of the camera; send a frame captured live from the gate camera, or send the person to manual check-in`);
    case 'bad_image':
      throw new ApiError(415, `the image could not be decoded (${outcome.reason}); send a complete JPEG, PNG or WebP file`);
  }
}
