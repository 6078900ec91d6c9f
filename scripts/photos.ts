// The shared photo sets as benchmarks and tests walk them.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_FACES } from './paths.js';

export interface Photo {
  identity: string;
  path: string;
  name: string;
}

/** Every single-person photo of bbt/ and people/, the folder name being the identity. */
export function identityPhotos(): Photo[] {
  const out: Photo[] = [];
  for (const set of ['bbt', 'people']) {
    const dir = join(SHARED_FACES, set);
    for (const identity of readdirSync(dir).sort()) {
      const idDir = join(dir, identity);
      if (identity === 'groups' || !statSync(idDir).isDirectory()) continue;
      for (const f of readdirSync(idDir).sort()) out.push({ identity, path: join(idDir, f), name: `${identity}/${f}` });
    }
  }
  return out;
}
