// Where tests find the project and the shared models and photos (shared with the scripts).
export { BIN, ROOT, SHARED, SHARED_FACES, SHARED_MODELS } from '../scripts/paths.js';
