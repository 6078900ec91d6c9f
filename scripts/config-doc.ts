// `npm run docs:config`: writes docs/config-reference.md from the config schema.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configReference } from '../src/config/reference.js';

const out = fileURLToPath(new URL('../../docs/config-reference.md', import.meta.url));
writeFileSync(out, configReference());
process.stdout.write(`wrote ${out}\n`);
