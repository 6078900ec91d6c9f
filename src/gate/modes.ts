// Keys of the `gate` config section that are not the voting policy's (the policy's own
// keys stay in policy.ts): the evidence fused over each track's frames, and how a face
// is identified (1:N against the event, or 1:1 against the attendee whose ticket was shown).
import type { SchemaNode } from '../config/schema.js';

/** identify: 1:N; verify: ticket QR + 1:1 face only; either: a verified ticket or a 1:N identification. */
export type GateMode = 'identify' | 'verify' | 'either';

export interface GateModeOptions {
  /** Good frames of a track whose embeddings are fused (mean of unit vectors) before matching; 1 matches each frame alone. */
  fusionFrames: number;
  mode: GateMode;
  /** A ticket QR seen on the camera names the attendee for this long (monotonic ms). */
  ticketWindowMs: number;
  /** Frames wider than this are downscaled (grey) before QR decoding; 0 decodes at full size. */
  qrScanWidthPx: number;
}

export const gateModeDefaults: Readonly<GateModeOptions> = Object.freeze({ fusionFrames: 3, mode: 'identify', ticketWindowMs: 10_000, qrScanWidthPx: 320 });

/** The `gate` section: the policy's keys plus these. */
export function gateModeSchema(policy: SchemaNode): SchemaNode {
  return {
    ...policy,
    properties: {
      ...policy.properties,
      fusionFrames: {
        type: 'integer',
        description: 'Good-quality frames of a track whose embeddings are averaged (unit vectors, normalised again) before matching: the decision rests on several frames\' evidence, not one. 1 matches each frame alone.',
        default: gateModeDefaults.fusionFrames,
        minimum: 1,
        maximum: 10,
        examples: [3],
      },
      mode: {
        type: 'string',
        description: 'How a face is identified. identify: 1:N against the event\'s attendees. verify: the attendee first shows their ticket QR code to the camera, and the face is compared 1:1 with that attendee only, at the verify threshold (identification.verifyTargetFar); a face without a ticket is denied (ticket_required). either: a verified ticket + face, or a plain 1:N identification (docs/gate.md).',
        default: gateModeDefaults.mode,
        enum: ['identify', 'verify', 'either'],
        examples: ['verify'],
      },
      ticketWindowMs: {
        type: 'integer',
        description: 'verify/either: how long after its QR code was last seen a ticket names the attendee the next face is compared with; a grant uses it up.',
        default: gateModeDefaults.ticketWindowMs,
        minimum: 1000,
        maximum: 120_000,
        examples: [10000],
      },
      qrScanWidthPx: {
        type: 'integer',
        description: 'verify/either: frames wider than this are scaled down (grey) before the QR code is looked for: faster, but a smaller code on screen may be missed. 0 scans at full size.',
        default: gateModeDefaults.qrScanWidthPx,
        minimum: 0,
        examples: [320],
      },
    },
  };
}
