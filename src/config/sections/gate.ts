// The `gate` section: when the door opens. The voting policy's keys (votes over tracked
// faces, cooldown, anti-passback, the event window) and how a face is identified (1:N
// against the event, or 1:1 against the attendee whose ticket was shown); docs/gate.md.
import { Type } from '@sinclair/typebox';
import { schemaProblems } from '../schema-problems.js';
import { defaultsOf, int, num, oneOf, section, type Static } from '../schema-kit.js';

const policyKeys = {
  votesNeeded: int({ description: 'Live, good-quality matches of the same attendee needed among the last votesWindow frames of a track to open; at most votesWindow, and more than half of it so two attendees cannot both qualify in one window.', default: 2, minimum: 1, examples: [2] }),
  votesWindow: int({ description: 'Frames of a track the votes are counted over; also how many frames matching nobody (or all of low quality) before the track is reported once.', default: 3, minimum: 1, maximum: 100, examples: [3] }),
  trackIou: num({ description: 'Smallest box overlap (IoU) for a face to continue a track from the previous frame.', default: 0.3, maximum: 1, exclusiveMinimum: 0, examples: [0.3] }),
  trackTtlMs: int({ description: 'A track not detected for longer than this ends (and reports once if it never opened the door).', default: 1500, minimum: 0, examples: [1500] }),
  cooldownMs: int({ description: 'After a grant or deny for an attendee, their further matches within this produce no decision: one pass per approach.', default: 10000, minimum: 0, examples: [10000] }),
  antiPassbackMinutes: num({ description: 'A second entry of the same attendee within this many minutes of the last is denied (anti_passback); 0 turns it off.', default: 0, minimum: 0, examples: [120] }),
  earlyOpenMinutes: num({ description: 'Entry opens this many minutes before the event\'s start time.', default: 0, minimum: 0, examples: [30] }),
};

const modeKeys = {
  fusionFrames: int({ description: 'Good-quality frames of a track whose embeddings are averaged (unit vectors, normalised again) before matching: the decision rests on several frames\' evidence, not one. 1 matches each frame alone.', default: 3, minimum: 1, maximum: 10, examples: [3] }),
  mode: oneOf(['identify', 'verify', 'either'], { description: 'How a face is identified. identify: 1:N against the event\'s attendees. verify: the attendee first shows their ticket QR code to the camera, and the face is compared 1:1 with that attendee only, at the verify threshold (identification.verifyTargetFar); a face without a ticket is denied (ticket_required). either: a verified ticket + face, or a plain 1:N identification (docs/gate.md).', default: 'identify', examples: ['verify'] }),
  ticketWindowMs: int({ description: 'verify/either: how long after its QR code was last seen a ticket names the attendee the next face is compared with; a grant uses it up.', default: 10000, minimum: 1000, maximum: 120000, examples: [10000] }),
  qrScanWidthPx: int({ description: 'verify/either: frames wider than this are scaled down (grey) before the QR code is looked for: faster, but a smaller code on screen may be missed. 0 scans at full size.', default: 320, minimum: 0, examples: [320] }),
};

/** The voting policy's keys alone: GatePolicy takes these (and checks them against this schema). */
export const gatePolicySchema = Type.Object(policyKeys, { additionalProperties: false, default: {} });
export type GatePolicyOptions = Static<typeof gatePolicySchema>;
export const gatePolicyDefaults: Readonly<GatePolicyOptions> = defaultsOf(gatePolicySchema);

const gateModeSchema = Type.Object(modeKeys);
export type GateModeOptions = Static<typeof gateModeSchema>;
/** identify: 1:N; verify: ticket QR + 1:1 face only; either: a verified ticket or a 1:N identification. */
export type GateMode = GateModeOptions['mode'];
export const gateModeDefaults: Readonly<GateModeOptions> = defaultsOf(gateModeSchema);

export const gateSchema = section('When the door opens: voting over tracked faces, cooldown, anti-passback and the event window (docs/gate.md).', {
  ...policyKeys,
  ...modeKeys,
});

/**
 * What the schema cannot say about the policy's keys (votesNeeded against votesWindow), as
 * `path: value: what is wrong, how to fix`. Types and ranges are the schema's (ajv).
 */
export function gatePolicyProblems(o: Pick<GatePolicyOptions, 'votesNeeded' | 'votesWindow'>, path = 'gate'): string[] {
  if (o.votesNeeded > o.votesWindow) {
    return [`${path}.votesNeeded: ${o.votesNeeded}: more than votesWindow (${o.votesWindow}), so no track could ever open the door; lower it or raise votesWindow`];
  }
  return [];
}

/** Every problem of policy options built outside the config loader: the schema's, then the rule across keys. */
export function gatePolicyOptionsProblems(o: GatePolicyOptions, path = 'gate'): string[] {
  const problems = schemaProblems(gatePolicySchema, o, path);
  return problems.length ? problems : gatePolicyProblems(o, path);
}
