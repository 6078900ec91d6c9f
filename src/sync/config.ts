// The sync API key, from wherever the config's `sync` section (src/config/sections/sync.ts)
// says it is.
import { readFileSync } from 'node:fs';
import type { SyncConfig } from '../config/sections/sync.js';

export type { SyncConfig };

export class SyncConfigError extends Error {
  override name = 'SyncConfigError';
}

/** The API key: GATE_AGENT_SYNC_API_KEY, else apiKeyFile, else apiKey. Never logged. */
export function resolveApiKey(c: Pick<SyncConfig, 'apiKey' | 'apiKeyFile'>, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.GATE_AGENT_SYNC_API_KEY?.trim();
  if (fromEnv) return fromEnv;
  if (c.apiKeyFile) {
    let text: string;
    try {
      text = readFileSync(c.apiKeyFile, 'utf8');
    } catch (err) {
      throw new SyncConfigError(`sync API key file ${c.apiKeyFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'}); check sync.apiKeyFile / --api-key-file and its permissions`);
    }
    const key = text.trim();
    if (!key) throw new SyncConfigError(`sync API key file ${c.apiKeyFile} is empty; put the key issued by the central server in it`);
    return key;
  }
  if (c.apiKey) return c.apiKey;
  throw new SyncConfigError('no sync API key; set GATE_AGENT_SYNC_API_KEY, sync.apiKeyFile or --api-key-file');
}
