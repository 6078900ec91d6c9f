import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { CONFIG_VERSION } from '../../src/config/schema.js';

test('no file gives the embedded defaults', () => {
  const c = loadConfig({ file: null, env: {} });
  assert.equal(c.version, CONFIG_VERSION);
  assert.equal(c.models.detector, 'scrfd_500m_kps');
  assert.equal(c.match.threshold, 0.34);
});

test('YAML and JSON files load; env GATE_AGENT__a__b overrides; flags override last', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cfg-'));
  try {
    await writeFile(join(dir, 'c.yaml'), 'version: 1\ngateId: north-1\nmatch:\n  threshold: 0.5\n');
    await writeFile(join(dir, 'c.json'), JSON.stringify({ gateId: 'south-2' }));
    const y = loadConfig({ file: join(dir, 'c.yaml'), env: { GATE_AGENT__match__margin: '0.1' } });
    assert.equal(y.gateId, 'north-1');
    assert.equal(y.match.threshold, 0.5);
    assert.equal(y.match.margin, 0.1);
    const j = loadConfig({ file: join(dir, 'c.json'), env: {}, overrides: { dataDir: '/tmp/x' } });
    assert.equal(j.gateId, 'south-2');
    assert.equal(j.version, CONFIG_VERSION, 'a file without a version is migrated');
    assert.equal(j.dataDir, '/tmp/x');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('every problem is listed at once as path: value: what is wrong, how to fix', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cfg-'));
  try {
    await writeFile(join(dir, 'bad.yaml'), 'gateId: "has spaces"\nmatch:\n  threshold: 3\n  treshold: 0.3\nmodels:\n  detectorInputPx: 500\n');
    assert.throws(() => loadConfig({ file: join(dir, 'bad.yaml'), env: {} }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const p = e.problems.join('\n');
      assert.equal(e.problems.length, 4, p);
      assert.match(p, /^gateId: "has spaces": must match pattern .*this key is: .*\(example: "north-entrance-1"\)/m);
      assert.match(p, /^match\.threshold: 3: must be <= 1/m);
      assert.match(p, /^match\.treshold: unknown key; did you mean "threshold"\?$/m);
      assert.match(p, /^models\.detectorInputPx: 500: must be one of \[320,480,640\]/m);
      return true;
    });
    await writeFile(join(dir, 'broken.yaml'), 'a: [\n');
    assert.throws(() => loadConfig({ file: join(dir, 'broken.yaml'), env: {} }), /not valid YAML/);
    assert.throws(() => loadConfig({ file: join(dir, 'none.yaml'), env: {} }), /cannot read the file \(ENOENT\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('every key of the schema has a description, a default and an example', async () => {
  const { configSchema } = await import('../../src/config/schema.js');
  type Node = { type?: unknown; description?: string; default?: unknown; examples?: unknown[]; properties?: Record<string, Node> };
  const missing: string[] = [];
  const walk = (n: Node, path: string) => {
    if (n.properties) for (const [k, v] of Object.entries(n.properties)) walk(v, path ? `${path}.${k}` : k);
    else if (!n.description || n.default === undefined || !n.examples?.length) missing.push(path);
  };
  walk(configSchema as Node, '');
  assert.deepEqual(missing, []);
});

test('the example configs in config/ are valid; rules across keys are checked too', async () => {
  const { readdirSync } = await import('node:fs');
  const { ROOT } = await import('../paths.js');
  const files = readdirSync(join(ROOT, 'config')).filter((f) => /\.(ya?ml|json)$/.test(f));
  assert.ok(files.length >= 1);
  for (const f of files) loadConfig({ file: join(ROOT, 'config', f), env: {} });
  assert.throws(() => loadConfig({ file: null, env: { GATE_AGENT__gate__votesNeeded: '5' } }), /gate\.votesNeeded: 5/);
});

test('liveness: defaults, the raspberry-pi example requires it, bad values are all reported', async () => {
  const c = loadConfig({ file: null, env: {} });
  assert.deepEqual({ ...c.liveness, models: [...c.liveness.models] }, { mode: 'advisory', threshold: 0.9, frames: 5, models: ['minifasnet_v2_2.7', 'minifasnet_v1se_4.0'] });
  const { ROOT } = await import('../paths.js');
  assert.equal(loadConfig({ file: join(ROOT, 'config/raspberry-pi.yaml'), env: {} }).liveness.mode, 'required');
  assert.throws(
    () => loadConfig({ file: null, env: { GATE_AGENT__liveness__mode: '"strict"', GATE_AGENT__liveness__threshold: '1.5', GATE_AGENT__liveness__frames: '0' } }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const p = e.problems.join('\n');
      assert.equal(e.problems.length, 3, p);
      assert.match(p, /^liveness\.mode: "strict": must be one of \["off","advisory","required"\]/m);
      assert.match(p, /^liveness\.threshold: 1\.5: must be <= 1/m);
      assert.match(p, /^liveness\.frames: 0: must be >= 1/m);
      return true;
    },
  );
  assert.throws(() => loadConfig({ file: null, env: { GATE_AGENT__liveness__models: '[]' } }), /liveness\.models: \[\]: at least one model is needed when mode is advisory/);
});

test('api: the fairness and decode keys and summaryFlushMs have defaults; bad values are all reported', () => {
  const c = loadConfig({ file: null, env: {} });
  assert.deepEqual(
    [c.api.summaryFlushMs, c.api.rateLimitShareWindowMs, c.api.maxRecognitionsInFlightPerKey, c.api.smallImagePixels, c.api.decodeTimeoutMs, c.api.decodeWallTimeoutMs],
    [10_000, 10_000, 1, 4_000_000, 3_000, 15_000],
  );
  // Each key against the schema first…
  assert.throws(
    () => loadConfig({ file: null, env: { GATE_AGENT__api__summaryFlushMs: '0', GATE_AGENT__api__rateLimitShareWindowMs: '0' } }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const p = e.problems.join('\n');
      assert.match(p, /^api\.summaryFlushMs: 0: must be >= 1/m);
      assert.match(p, /^api\.rateLimitShareWindowMs: 0: must be >= 1/m);
      return true;
    },
  );
  // …then the rules across keys.
  assert.throws(
    () => loadConfig({ file: null, env: { GATE_AGENT__api__maxRecognitionsInFlightPerKey: '3', GATE_AGENT__api__decodeWallTimeoutMs: '1000' } }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const p = e.problems.join('\n');
      assert.match(p, /^api\.maxRecognitionsInFlightPerKey: 3: must be <= api\.maxRecognitionsInFlight \(2\)/m);
      assert.match(p, /^api\.decodeWallTimeoutMs: 1000: must be >= api\.decodeTimeoutMs \(3000\)/m);
      return true;
    },
  );
});
