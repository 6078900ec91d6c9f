// Keys of the `gate` config section that are not the voting policy's (the policy's own
// keys stay in policy.ts): the evidence fused over each track's frames.
import type { SchemaNode } from '../config/schema.js';

export interface GateModeOptions {
  /** Good frames of a track whose embeddings are fused (mean of unit vectors) before matching; 1 matches each frame alone. */
  fusionFrames: number;
}

export const gateModeDefaults: Readonly<GateModeOptions> = Object.freeze({ fusionFrames: 3 });

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
    },
  };
}
