// GET /healthz, /metrics and /openapi.json, and the metrics registry itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsRegistry, registerGateMetrics } from '../../src/api/metrics.js';
import { IDENTITY_ERRORS } from '../../src/api/openapi.js';
import { dataUrl, EVENT, startApi, testImage } from './helpers.js';

void test('/healthz: 200 when every probe is ready, 503 with the reasons when not', async (t) => {
  let galleryReady = false;
  const api = await startApi(t, {
    config: { probeTimeoutMs: 100 },
    readiness: [
      { name: 'gallery', check: () => (galleryReady ? { ready: true } : { ready: false, reason: 'attendee cache still loading (0 of 1200)' }) },
      { name: 'sync', check: async () => ({ ready: true, reason: 'synced 12 s ago' }) },
    ],
  });
  const notReady = await api.req('/healthz');
  assert.equal(notReady.status, 503);
  assert.deepStrictEqual(notReady.json, {
    live: true,
    ready: false,
    checks: [
      { name: 'gallery', ready: false, reason: 'attendee cache still loading (0 of 1200)' },
      { name: 'sync', ready: true, reason: 'synced 12 s ago' },
    ],
  });
  galleryReady = true;
  const ready = await api.req('/healthz');
  assert.equal(ready.status, 200);
  assert.equal((ready.json as { ready: boolean }).ready, true);
});

void test('/healthz: a throwing or hanging probe is reported, not fatal', async (t) => {
  const api = await startApi(t, {
    config: { probeTimeoutMs: 50 },
    readiness: [
      {
        name: 'camera',
        check: () => {
          throw new Error('no frames for 30 s');
        },
      },
      { name: 'mqtt', check: () => new Promise(() => undefined) },
    ],
  });
  const r = await api.req('/healthz');
  assert.equal(r.status, 503);
  assert.deepStrictEqual((r.json as { checks: unknown[] }).checks, [
    { name: 'camera', ready: false, reason: 'probe failed: no frames for 30 s' },
    { name: 'mqtt', ready: false, reason: 'probe did not answer within 50 ms' },
  ]);
  const bare = await startApi(t);
  assert.deepStrictEqual((await bare.req('/healthz')).json, { live: true, ready: true, checks: [] });
});

void test('/metrics: Prometheus text with the API counters and the injected gate metrics', async (t) => {
  const registry = new MetricsRegistry();
  const gate = registerGateMetrics(registry);
  let depth = 3;
  gate.outboxDepth.collect(() => depth);
  gate.syncAgeSeconds.set(42.5);
  gate.decisions.inc({ reason: 'match' });
  gate.decisions.inc({ reason: 'match' });
  gate.decisions.inc({ reason: 'unknown' });
  for (const s of [0.01, 0.02, 0.03, 0.04]) gate.stageSeconds.observe(s, { stage: 'embed' });
  const api = await startApi(t, { metrics: registry });
  assert.equal((await api.identify({ event_id: EVENT, image_url: dataUrl(await testImage('png')) })).status, 200);
  assert.equal((await api.identify({ event_id: 'nope', image_url: dataUrl(await testImage('png')) })).status, 404);
  depth = 7;
  const r = await api.req('/metrics');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const lines = r.text.split('\n');
  for (const expected of [
    '# TYPE gate_decisions_total counter',
    'gate_decisions_total{reason="match"} 2',
    'gate_decisions_total{reason="unknown"} 1',
    '# TYPE gate_outbox_depth gauge',
    'gate_outbox_depth 7',
    'gate_sync_age_seconds 42.5',
    // Histograms, which add up across gates: cumulative buckets, _sum and _count.
    '# TYPE gate_stage_seconds histogram',
    'gate_stage_seconds_bucket{le="0.01",stage="embed"} 1',
    'gate_stage_seconds_bucket{le="0.025",stage="embed"} 2',
    'gate_stage_seconds_bucket{le="0.05",stage="embed"} 4',
    'gate_stage_seconds_bucket{le="+Inf",stage="embed"} 4',
    'gate_stage_seconds_count{stage="embed"} 4',
    '# TYPE api_stage_seconds histogram',
    'api_requests_total{route="/identity",status="200"} 1',
    'api_requests_total{route="/identity",status="404"} 1',
    'api_identify_outcomes_total{outcome="match"} 1',
    'api_stage_seconds_count{stage="identify"} 1',
    // prom-client's default process and Node.js metrics.
    '# TYPE process_cpu_seconds_total counter',
    '# TYPE process_resident_memory_bytes gauge',
    '# TYPE nodejs_eventloop_lag_p99_seconds gauge',
  ]) {
    assert.ok(lines.includes(expected), `missing line: ${expected}\n${r.text}`);
  }
  const sum = Number(/^gate_stage_seconds_sum\{stage="embed"\} (\S+)$/m.exec(r.text)?.[1]);
  assert.ok(Math.abs(sum - 0.1) < 1e-9, `gate_stage_seconds_sum ${sum}`);
  assert.ok(!lines.some((l) => l.includes('quantile=')), 'no summaries: their quantiles cannot be added up across gates');
  // Every sample line is `name{labels} value`, parseable by a scraper.
  for (const l of lines.filter((x) => x !== '' && !x.startsWith('#'))) {
    assert.match(l, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/, l);
  }
});

void test('metrics registry: label escaping, one metric per name, bad names refused', async () => {
  const r = new MetricsRegistry({ defaultMetrics: false });
  const c = r.counter('x_total', 'X.', ['reason']);
  c.inc({ reason: 'say "hi"\\\n' });
  const text = await r.render();
  assert.ok(text.includes('x_total{reason="say \\"hi\\"\\\\\\n"} 1'), text);
  assert.equal(r.counter('x_total', 'again'), c);
  assert.throws(() => r.gauge('x_total', 'clash'), /already a counter/);
  assert.throws(() => r.counter('bad-name', 'x'), /bad metric name/);
  assert.throws(() => c.inc({}, -1), /only go up/);
  const g = r.gauge('broken', 'collector that throws');
  g.collect(() => {
    throw new Error('db closed');
  });
  assert.ok((await r.render()).includes('broken NaN'));
});

void test('/openapi.json describes the endpoint, its parameters, the session schema and every error', async (t) => {
  const api = await startApi(t, { version: '9.9.9' });
  const r = await api.req('/openapi.json');
  assert.equal(r.status, 200);
  const doc = r.json as {
    openapi: string;
    info: { version: string };
    paths: Record<string, Record<string, { parameters?: { name: string; in: string; required: boolean }[]; responses: Record<string, unknown>; security?: unknown }>>;
    components: { securitySchemes: Record<string, unknown>; schemas: Record<string, { required?: string[] }> };
  };
  assert.match(doc.openapi, /^3\./);
  assert.equal(doc.info.version, '9.9.9');
  const post = doc.paths['/identity']?.post;
  assert.ok(post);
  assert.deepStrictEqual(
    post.parameters?.map((p) => [p.name, p.in, p.required]),
    [
      ['event_id', 'query', true],
      ['image_url', 'query', true],
    ],
  );
  assert.deepStrictEqual(doc.components.securitySchemes.apiKey, { type: 'apiKey', in: 'header', name: 'x-api-key' });
  assert.deepStrictEqual(post.security, [{ apiKey: [] }]);
  // Every status the error tests exercise is documented.
  for (const code of ['200', '400', '401', '404', '405', '413', '415', '422', '429', '503']) assert.ok(code in post.responses, code);
  assert.deepStrictEqual(Object.keys(post.responses).filter((c) => c !== '200'), Object.keys(IDENTITY_ERRORS));
  assert.deepStrictEqual(doc.components.schemas.AttendeeSession?.required, ['userInfo', 'authentication', 'kyc', 'status', 'qrId', 'activities', 'metadata', 'visitedOrder']);
  for (const p of ['/healthz', '/metrics', '/openapi.json']) assert.ok(doc.paths[p]?.get, p);
});
