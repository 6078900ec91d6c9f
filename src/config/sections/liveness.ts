// The `liveness` section: passive anti-spoofing with the MiniFASNet models, and how a
// track's scores become a verdict (gate/liveness.ts fuses them).
import { schemaProblems } from '../schema-problems.js';
import { defaultsOf, int, item, list, num, oneOf, section, type Static } from '../schema-kit.js';

export const LIVENESS_MODEL_IDS = ['minifasnet_v2_2.7', 'minifasnet_v1se_4.0'] as const;

export const livenessSchema = section('Passive liveness (anti-spoofing) with the MiniFASNet models: is the face in front of the camera a person, or a photo or screen? (docs/gate.md, docs/accuracy.md)', {
  mode: oneOf(['off', 'advisory', 'required'], {
    description: 'off: not run. advisory: matched faces are scored and the track\'s score is recorded with every decision, but never denies. required: a track whose score is below threshold is denied with liveness_failed.',
    default: 'advisory',
    examples: ['required'],
  }),
  threshold: num({ description: 'Probability of a live face (0..1) the mean score of a track\'s last `frames` scored frames must reach.', default: 0.9, minimum: 0, maximum: 1, examples: [0.9] }),
  frames: int({ description: 'Scored frames of a track the verdict is taken over; with `required` a track waits for this many matched frames before it can open the door.', default: 5, minimum: 1, maximum: 30, examples: [5] }),
  models: list(item.oneOf(LIVENESS_MODEL_IDS), {
    description: 'Liveness model ids from models/manifest.json; the reference averages the softmax of both.',
    default: [...LIVENESS_MODEL_IDS],
    examples: [[...LIVENESS_MODEL_IDS]],
  }),
});

/** The `liveness` section of the config. */
export type LivenessOptions = Static<typeof livenessSchema>;
/** off: not run; advisory: scored and recorded, never denies; required: a track below the threshold is denied. */
export type LivenessMode = LivenessOptions['mode'];

export const livenessDefaults: Readonly<LivenessOptions> = defaultsOf(livenessSchema);

/** What the schema cannot say (a mode that runs needs a model), as `path: value: what is wrong, how to fix`. */
export function livenessProblems(o: Pick<LivenessOptions, 'mode' | 'models'>, path = 'liveness'): string[] {
  if (o.mode !== 'off' && o.models.length === 0) return [`${path}.models: []: at least one model is needed when mode is ${o.mode}; list ${LIVENESS_MODEL_IDS.join(' and ')}`];
  return [];
}

/** Every problem of liveness options built outside the config loader: the schema's, then the rules across keys. */
export function livenessOptionsProblems(o: LivenessOptions, path = 'liveness'): string[] {
  const problems = schemaProblems(livenessSchema, o, path);
  return problems.length ? problems : livenessProblems(o, path);
}
