// Where scripts and tests find the project and the shared models and photos.
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled scripts live in dist/scripts/, so the project root is two levels up.
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED = process.env.GATE_AGENT_SHARED ?? resolve(ROOT, '..', 'shared');
export const SHARED_MODELS = resolve(SHARED, 'models');
export const SHARED_FACES = resolve(SHARED, 'faces');
export const BIN = resolve(ROOT, 'bin', 'gate-agent.js');
