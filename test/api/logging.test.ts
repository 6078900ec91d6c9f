// Request logs carry enough to debug (route, status, key name, event, image
// host) and never the API key, the image, a URL's query or KYC data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

void test('request logs never contain the API key, the image, URL query secrets or KYC data', () => {
  const probe = fileURLToPath(new URL('./log-probe.js', import.meta.url));
  const r = spawnSync(process.execPath, [probe], { env: { ...process.env, GATE_AGENT_LOG_LEVEL: 'debug' }, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { key: string; statuses: number[]; image: string };
  assert.deepStrictEqual(out.statuses, [200, 200, 401, 503]);
  const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const requests = lines.filter((l) => l.msg === 'request');
  assert.equal(requests.length, 4, r.stderr);
  assert.deepStrictEqual(
    requests.map((l) => [l.path, l.status, l.apiKeyName]),
    [
      ['/identity', 200, 'log-probe'],
      ['/identity', 200, 'log-probe'],
      ['/identity', 401, undefined],
      ['/identity', 503, 'log-probe'],
    ],
  );
  assert.equal(requests[0]?.imageScheme, 'data');
  assert.match(String(requests[1]?.imageHost), /^127\.0\.0\.1:\d+$/, 'host and port only, no path or query');
  assert.ok(lines.some((l) => l.msg === 'request failed' && l.level === 50), 'the 503 cause is logged as an error');
  for (const secret of [out.key, out.key.slice(4, 24), 'WRONG-KEY-SECRET-456', 'SECRET-TOKEN-123', out.image.slice(0, 40), 'DL1234567', '1985-07-15', '123 Main Street', 'x-api-key']) {
    assert.ok(!r.stderr.includes(secret), `log contains ${secret}`);
  }
});
