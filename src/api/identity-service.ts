// What the HTTP layer needs from the rest of the agent. The server only
// serves: recognition, recording the verification in `activities`, the
// outbox and MQTT all live behind IdentityService, so the API can be built
// and tested before (and independently of) the face pipeline.
import type { RgbImage } from '../vision/types.js';
import type { AttendeeSession } from '../store/session-types.js';

export interface IdentifyContext {
  source: 'api';
  /** Label of the API key that made the request (never the key itself). */
  apiKeyName: string;
}

export type IdentifyOutcome =
  | { kind: 'match'; session: AttendeeSession }
  | { kind: 'no_face' }
  | { kind: 'unknown'; reason: string }
  /** The face did not pass the liveness check (a photo or a screen, by its look). */
  | { kind: 'not_live'; score: number }
  | { kind: 'bad_image'; reason: string };

export interface IdentityService {
  /** Whether the local attendee cache holds this event. */
  hasEvent(eventId: string): boolean;
  /**
   * Recognise the face in `image` (JPEG, PNG or WebP bytes, already sniffed, or pixels
   * the API's decode workers made from them) against the attendees of `eventId`. Rejects only on an internal failure;
   * anything about the image or the person is an outcome.
   */
  identify(eventId: string, image: Buffer | RgbImage, ctx: IdentifyContext): Promise<IdentifyOutcome>;
}

export interface ApiKeyStore {
  /** The key's label when `presentedKey` is a live (not revoked) key, else null. */
  verify(presentedKey: string): { name: string } | null;
}

export interface ReadinessResult {
  ready: boolean;
  /** Why not ready (or a short status when ready). */
  reason?: string;
}

/** One readiness check for GET /healthz, e.g. "gallery loaded", "sync fresh". */
export interface ReadinessProbe {
  name: string;
  check(): ReadinessResult | Promise<ReadinessResult>;
}
