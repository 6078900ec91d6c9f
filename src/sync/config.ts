// The `sync` config section: where the central server is, how the agent pages
// through it and how hard it retries. Written in the schema's SchemaNode format
// so it can be pasted into src/config/schema.ts as `sync: syncSchema`.
import { readFileSync } from 'node:fs';
import type { SchemaNode } from '../config/schema.js';

export interface SyncConfig {
  baseUrl: string | null;
  apiKey: string | null;
  apiKeyFile: string | null;
  events: string[];
  pageSize: number;
  requestTimeoutMs: number;
  maxPageBytes: number;
  maxPhotoBytes: number;
  maxRetries: number;
  retryBackoffMs: number;
  intervalMs: number;
}

export const syncSchema: SchemaNode = {
  type: 'object',
  description: 'Downloading attendee lists from the central Securegate server into the local cache (docs/sync.md).',
  additionalProperties: false,
  default: {},
  properties: {
    baseUrl: { type: ['string', 'null'], description: 'Central server address, without /v1; null disables sync (the gate works from its cache). Overridden by `sync --url`.', default: null, urlSchemes: ['https', 'http'], examples: ['https://api.securegate.ai'] },
    apiKey: { type: ['string', 'null'], description: 'API key sent as x-api-key. Prefer apiKeyFile or GATE_AGENT_SYNC_API_KEY so the key is not in the config file.', default: null, minLength: 1, examples: [null] },
    apiKeyFile: { type: ['string', 'null'], description: 'File holding the API key (surrounding whitespace ignored). GATE_AGENT_SYNC_API_KEY and `sync --api-key-file` override it.', default: null, minLength: 1, examples: ['/etc/gate-agent/sync.key'] },
    events: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'Event ids to sync; empty means every event already in the local cache. `sync --event` overrides it.', default: [], examples: [['evt_spring_gala']] },
    pageSize: { type: 'integer', description: 'Attendees asked for per page (the server may send fewer). Each page is applied in one transaction.', default: 200, minimum: 1, maximum: 1000, examples: [200] },
    requestTimeoutMs: { type: 'integer', description: 'Longest one request (page or photo) may take, connect to last byte, before it is abandoned and retried.', default: 30000, minimum: 100, examples: [30000] },
    maxPageBytes: { type: 'integer', description: 'Largest page response accepted; a larger one is refused (lower pageSize).', default: 33554432, minimum: 1024, examples: [33554432] },
    maxPhotoBytes: { type: 'integer', description: 'Largest attendee photo downloaded for local embedding.', default: 10485760, minimum: 1024, examples: [10485760] },
    maxRetries: { type: 'integer', description: 'Retries of one failed request (network error, timeout, HTTP 429/5xx) within one sync run; the next run resumes from the last applied page anyway.', default: 3, minimum: 0, maximum: 20, examples: [3] },
    retryBackoffMs: { type: 'integer', description: 'Wait before the first retry; doubled for each further retry.', default: 1000, minimum: 0, examples: [1000] },
    intervalMs: { type: 'integer', description: 'How often the daemon syncs every event.', default: 300000, minimum: 1000, examples: [300000] },
  },
};

export const SYNC_DEFAULTS: SyncConfig = {
  baseUrl: null,
  apiKey: null,
  apiKeyFile: null,
  events: [],
  pageSize: 200,
  requestTimeoutMs: 30000,
  maxPageBytes: 32 * 1024 * 1024,
  maxPhotoBytes: 10 * 1024 * 1024,
  maxRetries: 3,
  retryBackoffMs: 1000,
  intervalMs: 300000,
};

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
