// The `sync` section: where the central server is, how the agent pages through it and how
// hard it retries (docs/sync.md).
import { defaultsOf, int, item, list, section, strOrNull, type Static } from '../schema-kit.js';

export const syncSchema = section('Downloading attendee lists from the central Securegate server into the local cache (docs/sync.md).', {
  baseUrl: strOrNull({ description: 'Central server address, without /v1; null disables sync (the gate works from its cache). Overridden by `sync --url`.', default: null, urlSchemes: ['https', 'http'], examples: ['https://api.securegate.ai'] }),
  apiKey: strOrNull({ description: 'API key sent as x-api-key. Prefer apiKeyFile or GATE_AGENT_SYNC_API_KEY so the key is not in the config file.', default: null, minLength: 1, examples: [null] }),
  apiKeyFile: strOrNull({ description: 'File holding the API key (surrounding whitespace ignored). GATE_AGENT_SYNC_API_KEY and `sync --api-key-file` override it.', default: null, minLength: 1, examples: ['/etc/gate-agent/sync.key'] }),
  events: list(item.str({ minLength: 1 }), { description: 'Event ids to sync; empty means every event already in the local cache. `sync --event` overrides it.', default: [], examples: [['evt_spring_gala']] }),
  pageSize: int({ description: 'Attendees asked for per page (the server may send fewer). Each page is applied in one transaction.', default: 200, minimum: 1, maximum: 1000, examples: [200] }),
  requestTimeoutMs: int({ description: 'Longest one request (page or photo) may take, connect to last byte, before it is abandoned and retried.', default: 30000, minimum: 100, examples: [30000] }),
  maxPageBytes: int({ description: 'Largest page response accepted; a larger one is refused (lower pageSize).', default: 33554432, minimum: 1024, examples: [33554432] }),
  maxPhotoBytes: int({ description: 'Largest attendee photo downloaded for local embedding.', default: 10485760, minimum: 1024, examples: [10485760] }),
  maxRetries: int({ description: 'Retries of one failed request (network error, timeout, HTTP 429/5xx) within one sync run; the next run resumes from the last applied page anyway.', default: 3, minimum: 0, maximum: 20, examples: [3] }),
  retryBackoffMs: int({ description: 'Wait before the first retry; doubled for each further retry.', default: 1000, minimum: 0, examples: [1000] }),
  intervalMs: int({ description: 'How often the daemon syncs every event.', default: 300000, minimum: 1000, examples: [300000] }),
});

export type SyncConfig = Static<typeof syncSchema>;

export const SYNC_DEFAULTS: Readonly<SyncConfig> = defaultsOf(syncSchema);
