// The API's tunables, with units in their names. The agent's config schema
// (src/config) should carry these under `api:` with the same names and
// defaults; createApiServer takes a partial and fills in the rest from here.
import { parseAllowList } from './address-policy.js';

export interface ApiConfig {
  /** Time a client has to send its request headers (slow-loris guard). */
  headersTimeoutMs: number;
  /** Time a client has to send its whole request; must be >= headersTimeoutMs. */
  requestTimeoutMs: number;
  /** Idle time before a keep-alive connection is closed. */
  keepAliveTimeoutMs: number;
  /** How often node checks connections against the two timeouts above. */
  connectionsCheckIntervalMs: number;
  /** Largest request head (request line + headers). A data: image_url counts against it. */
  maxHeaderBytes: number;
  /** Largest request body; /identity takes no body, so this is small. */
  bodyLimitBytes: number;
  /** Largest image accepted from any image_url. */
  imageMaxBytes: number;
  /** Time to fetch a remote image, all redirects included. */
  imageFetchTimeoutMs: number;
  imageMaxRedirects: number;
  /** LAN hosts image_url may reach despite the SSRF policy: host, host:port, IP, [IPv6]:port or CIDR. */
  imageAllowList: string[];
  /** Directory file: image URLs may read from; null disables file: URLs. */
  snapshotDir: string | null;
  rateLimitPerKeyPerSec: number;
  rateLimitPerKeyBurst: number;
  rateLimitPerIpPerSec: number;
  rateLimitPerIpBurst: number;
  /** Requests per second over all keys and addresses together (the gate recognises a few per second). */
  rateLimitTotalPerSec: number;
  rateLimitTotalBurst: number;
  /** An API key that sent a request within this many ms is active: the gate-wide rate is shared between active keys. */
  rateLimitShareWindowMs: number;
  /** Longest a readiness probe may take before /healthz reports it not ready. */
  probeTimeoutMs: number;
  /** Open client connections at most; at the cap the oldest idle one is closed for a new one. */
  maxConnections: number;
  /** Open connections per client address at most (same rule). */
  maxConnectionsPerAddress: number;
  /** Verifications (decode + face pipeline) running at once; also the number of decode workers. */
  maxRecognitionsInFlight: number;
  /** Verifications one API key runs at once at most (its share of maxRecognitionsInFlight). */
  maxRecognitionsInFlightPerKey: number;
  /** Pixels (width*height from the image headers) of the images being verified at once. */
  maxInFlightPixels: number;
  /** Images of at most this many pixels may go this far over maxInFlightPixels (a large image in flight does not block an ordinary photo). */
  smallImagePixels: number;
  /** Verifications waiting for a slot at most; beyond it 503 with Retry-After. */
  maxQueuedRecognitions: number;
  /** Longest wait for a slot before 503 with Retry-After. */
  queueTimeoutMs: number;
  /** CPU time one image decode may use; past it the decode worker is killed and the answer is 415. */
  decodeTimeoutMs: number;
  /** Wall-clock bound of one image decode (a decode starved of CPU by the gate's own work); past it the worker is killed and the answer is 503. */
  decodeWallTimeoutMs: number;
  /** API images are downscaled to at most this many pixels on their longer side. */
  decodeMaxSidePx: number;
  /** Require a valid x-api-key on GET /metrics. */
  metricsRequireKey: boolean;
  /** POST /identity results that are not a match recorded one by one per minute; beyond it they are counted into one summary per minute. */
  unmatchedRecordsPerMinute: number;
}

export const DEFAULT_API_CONFIG: Readonly<ApiConfig> = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  connectionsCheckIntervalMs: 1_000,
  maxHeaderBytes: 256 * 1024,
  bodyLimitBytes: 64 * 1024,
  imageMaxBytes: 10 * 1024 * 1024,
  imageFetchTimeoutMs: 5_000,
  imageMaxRedirects: 3,
  imageAllowList: [],
  snapshotDir: null,
  rateLimitPerKeyPerSec: 10,
  rateLimitPerKeyBurst: 20,
  rateLimitPerIpPerSec: 20,
  rateLimitPerIpBurst: 40,
  rateLimitTotalPerSec: 20,
  rateLimitTotalBurst: 40,
  rateLimitShareWindowMs: 10_000,
  probeTimeoutMs: 1_000,
  maxConnections: 256,
  maxConnectionsPerAddress: 32,
  maxRecognitionsInFlight: 2,
  maxRecognitionsInFlightPerKey: 1,
  maxInFlightPixels: 40_000_000,
  smallImagePixels: 4_000_000,
  maxQueuedRecognitions: 16,
  queueTimeoutMs: 5_000,
  decodeTimeoutMs: 3_000,
  decodeWallTimeoutMs: 15_000,
  decodeMaxSidePx: 2048,
  metricsRequireKey: false,
  unmatchedRecordsPerMinute: 60,
};

/** Every problem with `c` as `key: value: what is wrong, how to fix`; empty when valid. */
export function validateApiConfig(c: ApiConfig): string[] {
  const errors: string[] = [];
  const positive: (keyof ApiConfig)[] = [
    'headersTimeoutMs',
    'requestTimeoutMs',
    'keepAliveTimeoutMs',
    'connectionsCheckIntervalMs',
    'maxHeaderBytes',
    'bodyLimitBytes',
    'imageMaxBytes',
    'imageFetchTimeoutMs',
    'rateLimitPerKeyPerSec',
    'rateLimitPerKeyBurst',
    'rateLimitPerIpPerSec',
    'rateLimitPerIpBurst',
    'probeTimeoutMs',
    'rateLimitTotalPerSec',
    'rateLimitTotalBurst',
    'rateLimitShareWindowMs',
    'queueTimeoutMs',
    'decodeTimeoutMs',
    'decodeWallTimeoutMs',
  ];
  for (const k of positive) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) errors.push(`api.${k}: ${String(v)}: must be a positive number`);
  }
  if (!Number.isInteger(c.imageMaxRedirects) || c.imageMaxRedirects < 0) {
    errors.push(`api.imageMaxRedirects: ${c.imageMaxRedirects}: must be a whole number >= 0`);
  }
  const wholes: (keyof ApiConfig)[] = ['maxConnections', 'maxConnectionsPerAddress', 'maxRecognitionsInFlight', 'maxRecognitionsInFlightPerKey', 'maxInFlightPixels', 'smallImagePixels', 'decodeMaxSidePx'];
  for (const k of wholes) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) errors.push(`api.${k}: ${String(v)}: must be a whole number >= 1`);
  }
  if (!Number.isInteger(c.maxQueuedRecognitions) || c.maxQueuedRecognitions < 0) {
    errors.push(`api.maxQueuedRecognitions: ${c.maxQueuedRecognitions}: must be a whole number >= 0`);
  }
  if (c.maxConnectionsPerAddress > c.maxConnections) {
    errors.push(`api.maxConnectionsPerAddress: ${c.maxConnectionsPerAddress}: must be <= api.maxConnections (${c.maxConnections})`);
  }
  if (c.decodeWallTimeoutMs < c.decodeTimeoutMs) {
    errors.push(`api.decodeWallTimeoutMs: ${c.decodeWallTimeoutMs}: must be >= api.decodeTimeoutMs (${c.decodeTimeoutMs}): a decode cannot use more CPU time than wall time`);
  }
  if (c.maxRecognitionsInFlightPerKey > c.maxRecognitionsInFlight) {
    errors.push(`api.maxRecognitionsInFlightPerKey: ${c.maxRecognitionsInFlightPerKey}: must be <= api.maxRecognitionsInFlight (${c.maxRecognitionsInFlight})`);
  }
  if (!Number.isInteger(c.unmatchedRecordsPerMinute) || c.unmatchedRecordsPerMinute < 0) {
    errors.push(`api.unmatchedRecordsPerMinute: ${c.unmatchedRecordsPerMinute}: must be a whole number >= 0 (0: only the per-minute summary)`);
  }
  if (typeof c.metricsRequireKey !== 'boolean') errors.push(`api.metricsRequireKey: ${String(c.metricsRequireKey)}: must be true or false`);
  if (c.requestTimeoutMs < c.headersTimeoutMs) {
    errors.push(`api.requestTimeoutMs: ${c.requestTimeoutMs}: must be >= api.headersTimeoutMs (${c.headersTimeoutMs})`);
  }
  for (const e of parseAllowList(c.imageAllowList).errors) errors.push(`api.imageAllowList: ${e}`);
  return errors;
}
