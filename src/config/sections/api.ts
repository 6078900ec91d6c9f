// The `api` section: the local identity endpoint. Its tunables (ApiConfig) are also what
// createApiServer takes, partly, filling in the rest from DEFAULT_API_CONFIG; units are in
// the names.
import { Type } from '@sinclair/typebox';
import { parseAllowList } from '../allow-list.js';
import { bool, defaultsOf, int, item, list, section, str, strOrNull, type Static } from '../schema-kit.js';

const tunables = {
  headersTimeoutMs: int({ description: 'A client must send its request headers within this many ms.', default: 10000, minimum: 0, examples: [10000] }),
  requestTimeoutMs: int({ description: 'A whole request must arrive within this many ms.', default: 30000, minimum: 0, examples: [30000] }),
  keepAliveTimeoutMs: int({ description: 'Idle keep-alive connections are closed after this many ms.', default: 5000, minimum: 0, examples: [5000] }),
  connectionsCheckIntervalMs: int({ description: 'How often timed-out connections are looked for, in ms.', default: 1000, minimum: 0, examples: [1000] }),
  maxHeaderBytes: int({ description: 'Largest request header block, in bytes.', default: 262144, minimum: 0, examples: [262144] }),
  bodyLimitBytes: int({ description: 'Largest request body read (and ignored), in bytes.', default: 65536, minimum: 0, examples: [65536] }),
  imageMaxBytes: int({ description: 'Largest image fetched for image_url, in bytes.', default: 10485760, minimum: 0, examples: [10485760] }),
  imageFetchTimeoutMs: int({ description: 'Time limit for fetching image_url, in ms.', default: 5000, minimum: 0, examples: [5000] }),
  imageMaxRedirects: int({ description: 'Redirects followed when fetching image_url.', default: 3, minimum: 0, examples: [3] }),
  imageAllowList: list(item.str(), { description: 'Hosts, host:port, IPs or CIDR blocks image_url may reach although they are private or loopback.', default: [], examples: [['cameras.venue.lan', '10.20.0.0/16']] }),
  snapshotDir: strOrNull({ description: 'Folder file: URLs may read images from; null refuses file: URLs.', default: null, examples: ['/var/lib/gate-agent/snapshots'] }),
  rateLimitPerKeyPerSec: int({ description: 'Requests per second allowed per API key.', default: 10, minimum: 0, examples: [10] }),
  rateLimitPerKeyBurst: int({ description: 'Burst of requests allowed per API key.', default: 20, minimum: 0, examples: [20] }),
  rateLimitPerIpPerSec: int({ description: 'Requests per second allowed per client address.', default: 20, minimum: 0, examples: [20] }),
  rateLimitPerIpBurst: int({ description: 'Burst of requests allowed per client address.', default: 40, minimum: 0, examples: [40] }),
  rateLimitTotalPerSec: int({ description: 'Requests per second to POST /identity over all keys and addresses together; the gate recognises only a few per second.', default: 20, minimum: 0, examples: [20] }),
  rateLimitTotalBurst: int({ description: 'Burst of requests allowed over all keys and addresses together.', default: 40, minimum: 0, examples: [40] }),
  rateLimitShareWindowMs: int({ description: 'An API key that sent POST /identity within this many ms counts as active. The gate-wide rate and burst are shared between the active keys: a key within its share always gets through while the gate has capacity, a key past it only takes capacity no other active key could claim now.', default: 10000, minimum: 1, examples: [10000] }),
  probeTimeoutMs: int({ description: 'Time limit of each readiness probe of /healthz, in ms.', default: 1000, minimum: 0, examples: [1000] }),
  maxConnections: int({ description: 'Open client connections at most; at the cap the oldest idle connection is closed to make room, so /healthz still answers while idle sockets pile up.', default: 256, minimum: 1, examples: [256] }),
  maxConnectionsPerAddress: int({ description: 'Open connections per client address at most (the same rule, per address).', default: 32, minimum: 1, examples: [32] }),
  maxRecognitionsInFlight: int({ description: 'Verifications (image decode + face pipeline) running at once; also the number of decode worker processes.', default: 2, minimum: 1, examples: [2] }),
  maxRecognitionsInFlightPerKey: int({ description: 'Verifications one API key runs at once at most; waiting verifications are admitted round robin between keys, so a key flooding the queue does not stand between another key and a free slot.', default: 1, minimum: 1, examples: [1] }),
  maxInFlightPixels: int({ description: 'Pixels (width x height, read from the image headers) of the images being verified at once; bounds decode memory (about 3-9 bytes per pixel). An image with more is refused with 413.', default: 40000000, minimum: 1, examples: [40000000] }),
  smallImagePixels: int({ description: 'Images of at most this many pixels (an ordinary photo or camera frame) may go this far over api.maxInFlightPixels, so one large image in flight does not hold every other verification up; decode memory is bounded by the two together.', default: 4000000, minimum: 1, examples: [4000000] }),
  maxQueuedRecognitions: int({ description: 'Verifications waiting for a slot at most; more are answered 503 with Retry-After.', default: 16, minimum: 0, examples: [16] }),
  queueTimeoutMs: int({ description: 'Longest a verification waits for a slot before it is answered 503 with Retry-After, in ms.', default: 5000, minimum: 0, examples: [5000] }),
  decodeTimeoutMs: int({ description: 'CPU time one image decode may use in the decode worker, in ms; past it the worker is killed (the CPU work stops) and the answer is 415. CPU time, not wall time: a decode the gate\'s own work keeps waiting is not the image\'s fault.', default: 3000, minimum: 0, examples: [3000] }),
  decodeWallTimeoutMs: int({ description: 'Wall-clock bound of one image decode, in ms: the decode workers run at the lowest CPU priority, and one the gate\'s own work leaves without CPU holds its slot at most this long; past it the worker is killed and the answer is 503 with Retry-After.', default: 15000, minimum: 0, examples: [15000] }),
  decodeMaxSidePx: int({ description: 'API images are downscaled so their longer side is at most this many pixels before the face pipeline sees them.', default: 2048, minimum: 1, examples: [2048] }),
  metricsRequireKey: bool({ description: 'Require a valid x-api-key header on GET /metrics.', default: false, examples: [true] }),
  unmatchedRecordsPerMinute: int({ description: 'POST /identity results that are not a match (no face, unknown, liveness failed) recorded one by one (audit record + outbox message) per minute; beyond it they are counted and written as one identity_api_summary event per minute, so a flood cannot fill the outbox or grow the audit without bound. Matches and camera decisions are always recorded.', default: 60, minimum: 0, examples: [60] }),
};

/** The server's tunables: the `api` section less the daemon's own keys (enabled, host, port, …). */
const apiConfigSchema = Type.Object(tunables);
export type ApiConfig = Static<typeof apiConfigSchema>;
export const DEFAULT_API_CONFIG: Readonly<ApiConfig> = defaultsOf(apiConfigSchema);

export const apiSchema = section('The local identity endpoint (POST /identity, /healthz, /metrics, /openapi.json).', {
  enabled: bool({ description: 'Serve the endpoint from the daemon.', default: false, examples: [false] }),
  host: str({ description: 'Address to listen on.', default: '0.0.0.0', examples: ['0.0.0.0'] }),
  port: int({ description: 'TCP port to listen on; 0 lets the system pick a free one (the log says which).', default: 8080, minimum: 0, examples: [8080] }),
  maxGateActivities: int({ description: 'Verifications by this gate kept in an attendee\'s activities (the oldest of them are dropped first); the central server\'s own activities are never dropped.', default: 20, minimum: 1, examples: [20] }),
  summaryFlushMs: int({ description: 'How often, in ms, the daemon looks for an ended minute of POST /identity results summarised under api.unmatchedRecordsPerMinute and writes its identity_api_summary event, when no request comes to write it. The summary is late by at most this much.', default: 10000, minimum: 1, examples: [10000] }),
  ...tunables,
});

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
