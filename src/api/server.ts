// The gate's local HTTP API: POST /identity plus health, metrics and the
// OpenAPI document. Every answer that is not a success is {"detail": ...},
// including fastify's own errors and the socket-level ones node answers
// before fastify sees a request (bad HTTP, oversized headers, slow clients).
import http from 'node:http';
import type { Socket } from 'node:net';
import { fastify, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { logger, type Logger } from '../log.js';
import { parseAllowList } from './address-policy.js';
import { DEFAULT_API_CONFIG, validateApiConfig, type ApiConfig } from '../config/sections/api.js';
import { ApiError, isApiError } from './errors.js';
import type { ConnectTarget, Resolver } from './fetch-image.js';
import { handleIdentity, type IdentityAudit, type IdentityRouteDeps } from './identity-route.js';
import type { ApiKeyStore, IdentityService, ReadinessProbe, ReadinessResult } from './identity-service.js';
import { MetricsRegistry } from './metrics.js';
import { buildOpenApi } from './openapi.js';
import { TokenBuckets } from './rate-limit.js';
import { FairShareBucket } from './fair-share.js';
import { Admission } from './admission.js';
import type { CameraPriority } from './camera-priority.js';
import { ConnectionLimiter } from './connection-limit.js';
import type { ImageDecoder } from './decode-pool.js';
import { errorText } from '../errors.js';
import { VERSION } from '../version.js';

const defaultLog = logger('api');

export interface ApiServerOptions {
  identity: IdentityService;
  keys: ApiKeyStore;
  config?: Partial<ApiConfig>;
  /** Shared with the rest of the agent; a private one is made when absent. */
  metrics?: MetricsRegistry;
  readiness?: readonly ReadinessProbe[];
  /** DNS for image hosts; tests inject one to simulate rebinding names. */
  resolve?: Resolver;
  /** Called before each outgoing image connection (tests spy on it). */
  onConnect?: (target: ConnectTarget) => void;
  /** Clock for the rate limiter, in ms. */
  now?: () => number;
  /** Reported in /openapi.json; defaults to package.json's version. */
  version?: string;
  /** Decodes images before recognition (the decode worker pool); absent: the service gets bytes. */
  decoder?: ImageDecoder;
  /** API recognitions wait for a gap between camera frames (the daemon marks its frames). */
  priority?: CameraPriority;
  /** Where the API logs; tests inject one that keeps the lines. */
  log?: Logger;
}

export interface ApiServer {
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
  /** The fastify instance, for tests and for mounting extra routes before listen. */
  readonly app: FastifyInstance;
}

const ENDPOINTS = 'the endpoints are POST /identity, GET /healthz, GET /metrics and GET /openapi.json';

/** Socket-level errors: node has no request object yet, so the answer is written by hand. */
function clientErrorHandler(config: ApiConfig) {
  return (err: NodeJS.ErrnoException, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    let status = 400;
    let detail = 'malformed HTTP request; send a valid HTTP/1.1 request: POST /identity?event_id=...&image_url=...';
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408;
      detail = `the request was not received completely within ${config.headersTimeoutMs} ms (headers) / ${config.requestTimeoutMs} ms (whole request); send it without pausing`;
    } else if (err.code === 'HPE_HEADER_OVERFLOW') {
      status = 431;
      detail = `the request line and headers exceed ${config.maxHeaderBytes} bytes; shorten them (a data: image_url counts against this limit, so send a smaller image or an http(s) URL)`;
    }
    if (socket.writable) {
      const body = JSON.stringify({ detail });
      socket.write(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

/** Fastify's own errors in the API's words; anything unforeseen is a logged 500. */
function toApiError(err: FastifyError | ApiError): ApiError {
  if (isApiError(err)) return err;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'the request body is too large; POST /identity takes its parameters in the query string, so send no body');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'the Content-Type header is malformed; send no body and no Content-Type, the parameters go in the query string');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'the request body does not match its Content-Length; send no body, the parameters go in the query string');
    case 'FST_ERR_BAD_URL':
      return new ApiError(400, `the request path is not valid URL encoding; ${ENDPOINTS}`);
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) return new ApiError(status, `the request was rejected (${err.message}); ${ENDPOINTS}`);
  return new ApiError(500, 'internal error in the gate API; it has been logged, retry and tell the gate operator if it persists', {}, err);
}

async function runProbe(p: ReadinessProbe, timeoutMs: number): Promise<ReadinessResult & { name: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ReadinessResult>((resolve) => {
    timer = setTimeout(() => resolve({ ready: false, reason: `probe did not answer within ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    const r = await Promise.race([Promise.resolve().then(() => p.check()), timeout]);
    return { name: p.name, ...r };
  } catch (err) {
    return { name: p.name, ready: false, reason: `probe failed: ${errorText(err)}` };
  } finally {
    clearTimeout(timer);
  }
}

export function createApiServer(opts: ApiServerOptions): ApiServer {
  const config: ApiConfig = { ...DEFAULT_API_CONFIG, ...opts.config };
  const log = opts.log ?? defaultLog;
  const problems = validateApiConfig(config);
  if (problems.length > 0) throw new Error(`invalid API config:\n  ${problems.join('\n  ')}`);
  const metrics = opts.metrics ?? new MetricsRegistry();
  const requests = metrics.counter('api_requests_total', 'HTTP requests answered by the gate API, by route and status.', ['route', 'status']);
  const now = opts.now ?? Date.now;
  const rejected = metrics.counter('api_admission_rejected_total', 'POST /identity requests turned away by admission control, by reason.', ['reason']);
  const shed = metrics.counter('api_connections_shed_total', 'Client connections closed by the connection caps, by reason.', ['reason']);
  const deps: IdentityRouteDeps = {
    identity: opts.identity,
    keys: opts.keys,
    images: {
      maxBytes: config.imageMaxBytes,
      timeoutMs: config.imageFetchTimeoutMs,
      maxRedirects: config.imageMaxRedirects,
      allowList: parseAllowList(config.imageAllowList).entries,
      snapshotDir: config.snapshotDir,
      ...(opts.resolve && { resolve: opts.resolve }),
      ...(opts.onConnect && { onConnect: opts.onConnect }),
    },
    perKey: new TokenBuckets({ perSec: config.rateLimitPerKeyPerSec, burst: config.rateLimitPerKeyBurst }, now),
    perIp: new TokenBuckets({ perSec: config.rateLimitPerIpPerSec, burst: config.rateLimitPerIpBurst }, now),
    total: new FairShareBucket({ perSec: config.rateLimitTotalPerSec, burst: config.rateLimitTotalBurst, windowMs: config.rateLimitShareWindowMs }, now),
    limits: {
      perKeyPerSec: config.rateLimitPerKeyPerSec,
      perKeyBurst: config.rateLimitPerKeyBurst,
      perIpPerSec: config.rateLimitPerIpPerSec,
      perIpBurst: config.rateLimitPerIpBurst,
      totalPerSec: config.rateLimitTotalPerSec,
      totalBurst: config.rateLimitTotalBurst,
    },
    admission: new Admission(
      {
        maxInFlight: config.maxRecognitionsInFlight,
        maxInFlightPerClient: config.maxRecognitionsInFlightPerKey,
        maxInFlightPixels: config.maxInFlightPixels,
        smallImagePixels: config.smallImagePixels,
        maxQueued: config.maxQueuedRecognitions,
        queueTimeoutMs: config.queueTimeoutMs,
      },
      undefined,
      (reason) => rejected.inc({ reason }),
    ),
    ...(opts.decoder && { decoder: opts.decoder }),
    ...(opts.priority && { priority: opts.priority }),
    outcomes: metrics.counter('api_identify_outcomes_total', 'POST /identity recognition outcomes.', ['outcome']),
    stageSeconds: metrics.histogram('api_stage_seconds', 'POST /identity latency per stage (image_load, queue, decode, identify) in seconds.', ['stage']),
  };
  const openapi = JSON.stringify(buildOpenApi(opts.version ?? VERSION));

  const app = fastify({
    // Request logging is ours (onResponse below): fastify's would log the
    // query string, which can hold a whole data: image.
    logger: false,
    http: {
      maxHeaderSize: config.maxHeaderBytes,
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: config.connectionsCheckIntervalMs,
      // Node answers a missing Host with an empty 400 before fastify runs;
      // the onRequest hook below answers it in {"detail"} instead.
      requireHostHeader: false,
    },
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    bodyLimit: config.bodyLimitBytes,
    // On close, also drop stalled clients instead of waiting them out.
    forceCloseConnections: true,
    // Fastify's own shutdown 503 has its own body shape; ours (onRequest below) says {"detail"}.
    return503OnClosing: false,
    clientErrorHandler: clientErrorHandler(config),
    frameworkErrors: (err, _req, reply) => {
      const e = toApiError(err);
      // The generic reply type here is too narrow to take a status code.
      void (reply as FastifyReply).code(e.status).send({ detail: e.detail });
    },
  });

  new ConnectionLimiter({ maxConnections: config.maxConnections, maxPerAddress: config.maxConnectionsPerAddress, onShed: (reason) => shed.inc({ reason }) }).attach(app.server);
  metrics.gauge('api_recognitions_in_flight', 'POST /identity verifications decoding or recognising now.').collect(() => deps.admission.stats().inFlight);
  metrics.gauge('api_recognitions_queued', 'POST /identity verifications waiting for a slot.').collect(() => deps.admission.stats().queued);

  // Parameters are in the query; the body is read (up to bodyLimit) and
  // ignored whatever its type, so a bad JSON body cannot cause an error.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, _body, done) => done(null, undefined));

  // An Expect other than 100-continue: node would answer an empty 417 itself.
  app.server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const body = JSON.stringify({ detail: `the Expect header ${JSON.stringify(String(req.headers.expect).slice(0, 100))} is not supported; send the request without it (or with Expect: 100-continue)` });
    res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body);
  });

  let closing = false;
  app.addHook('onRequest', async (req, reply) => {
    if (closing) {
      return reply.code(503).header('connection', 'close').send({ detail: 'the gate API is shutting down; retry in a moment or at another gate' });
    }
    // HTTP/1.1 requires Host (RFC 9112 3.2); node's own check is off so the answer is {"detail"}.
    if (req.raw.httpVersionMajor === 1 && req.raw.httpVersionMinor >= 1 && req.headers.host === undefined) {
      return reply.code(400).header('connection', 'close').send({ detail: 'the request has no Host header, which HTTP/1.1 requires; send Host: <gate address>' });
    }
  });

  const audits = new WeakMap<FastifyRequest, IdentityAudit>();
  app.addHook('onResponse', async (req, reply) => {
    const status = reply.statusCode;
    const route = req.routeOptions.url ?? 'unmatched';
    requests.inc({ route, status: String(status) });
    const a = audits.get(req);
    // Path only, never the query (data: images, tokens in image URLs) or headers (the key).
    log.info({ method: req.method, path: req.url.split('?')[0]?.slice(0, 200), status, ms: Math.round(reply.elapsedTime), ip: req.ip, ...a }, 'request');
  });

  app.setErrorHandler((err: FastifyError | ApiError, req: FastifyRequest, reply: FastifyReply) => {
    const e = toApiError(err);
    // A 503 without a cause is a deliberate refusal (busy), not a failure of the gate.
    if (e.status >= 500 && (e.cause !== undefined || e.status !== 503)) log.error({ err: e.cause ?? err, path: req.url.split('?')[0] }, 'request failed');
    if (e.logDetail !== undefined) {
      // The specifics the client is not told; the key's name, never the key.
      const a = audits.get(req);
      log[e.logLevel]({ path: req.url.split('?')[0], ip: req.ip, client: a?.apiKeyName, eventId: a?.eventId, status: e.status, detail: e.logDetail }, 'request refused');
    }
    void reply.code(e.status).headers(e.headers).send({ detail: e.detail });
  });

  app.setNotFoundHandler((req, reply) => {
    const path = (req.url.split('?')[0] ?? '').slice(0, 100);
    void reply.code(404).send({ detail: `no route ${req.method} ${JSON.stringify(path)}; ${ENDPOINTS}` });
  });

  app.post('/identity', async (req) => {
    const audit: IdentityAudit = {};
    audits.set(req, audit);
    return handleIdentity(deps, { clientIp: req.ip, apiKey: req.headers['x-api-key'], query: req.query }, audit);
  });

  app.route({
    method: ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: '/identity',
    handler: async (req, reply) => {
      void reply.header('allow', 'POST');
      throw new ApiError(405, `${req.method} is not supported on /identity; use POST /identity?event_id=...&image_url=...`);
    },
  });

  app.get('/healthz', async (_req, reply) => {
    const checks = await Promise.all((opts.readiness ?? []).map((p) => runProbe(p, config.probeTimeoutMs)));
    const ready = checks.every((c) => c.ready);
    // Answering at all is the liveness signal; the status code is readiness.
    return reply.code(ready ? 200 : 503).send({ live: true, ready, checks });
  });

  app.get('/metrics', async (req, reply) => {
    if (config.metricsRequireKey) {
      const k = req.headers['x-api-key'];
      if (typeof k !== 'string' || !opts.keys.verify(k)) throw new ApiError(401, 'GET /metrics needs a valid x-api-key on this gate (api.metricsRequireKey); send a key made with `gate-agent keys create`');
    }
    return reply.type(metrics.contentType).send(await metrics.render());
  });

  app.get('/openapi.json', async (_req, reply) => reply.type('application/json').send(openapi));

  return {
    app,
    async listen(host: string, port: number) {
      await app.listen({ host, port });
      const addr = app.server.address();
      if (addr === null || typeof addr === 'string') return { host, port };
      log.info({ host: addr.address, port: addr.port }, 'identity API listening');
      return { host: addr.address, port: addr.port };
    },
    async close() {
      closing = true;
      await app.close();
    },
  };
}
