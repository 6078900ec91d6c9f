// The validated config, as the rest of the program sees it: the schema's own type, so the
// two cannot drift (a key added to the schema is a key of `Config`, with its type).
import type { Static } from './schema-kit.js';
import type { configSchema } from './schema.js';

export type { CameraConfig } from './sections/camera.js';

export type Config = Static<typeof configSchema>;
