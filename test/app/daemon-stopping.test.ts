// Once shutdown has begun (halt(), the first thing SIGTERM does), nothing energises the
// relay again: a remote `open` arriving then is answered with what really happened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GateDaemon } from '../../src/app/daemon.js';
import { loadConfig } from '../../src/config/load.js';
import type { SimRelay } from '../../src/relay/index.js';
import { SHARED_MODELS } from '../paths.js';
import { until } from '../proc.js';
import { Mosquitto } from '../publish/mosquitto.js';
import { Recorder } from '../publish/helpers.js';

test('a remote open during shutdown is refused and answered so; a grant path pulse is refused too', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'stopping-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const broker = await Mosquitto.launch();
  t.after(() => broker.dispose());
  const config = loadConfig({
    file: null,
    env: {},
    overrides: { dataDir: dir, 'relay.driver': 'sim', 'relay.pulseMs': 200, 'camera.kind': 'replay', 'mqtt.brokerUrl': broker.url, siteId: 's1', gateId: 'g1' },
  });
  const daemon = new GateDaemon({ config, configFile: null, modelsDir: SHARED_MODELS, dataDir: dir });
  t.after(() => daemon.stop());
  await daemon.start();
  const ops = await Recorder.connect(broker.url, ['securegate/s1/g1/cmd/open/response']);
  t.after(() => ops.close());
  await until('the publisher online', () => (daemon.publisher?.status().state === 'online' ? true : undefined));
  const send = (id: string) => ops.client.publishAsync('securegate/s1/g1/cmd/open', JSON.stringify({ id, params: {} }), { qos: 1 });
  const answer = (id: string) => until(`the answer to ${id}`, () => ops.json<{ id: string; ok: boolean; result?: { opened: boolean; reason?: string } }>('securegate/s1/g1/cmd/open/response').find((r) => r.id === id));
  const relay = daemon.relay as SimRelay;

  // While running, an open pulses and is confirmed. The daemon subscribes right after it
  // connects; a request sent before that is lost at the broker, so send again until answered.
  let sent = 0;
  await until('a first open answered', async () => {
    if (ops.messages.length > 0) return true;
    await send(`warm-${sent++}`);
    await new Promise((r) => setTimeout(r, 500));
    return ops.messages.length > 0 ? true : undefined;
  });
  const first = ops.json<{ result?: { opened: boolean } }>('securegate/s1/g1/cmd/open/response')[0];
  assert.deepEqual(first?.result, { opened: true });
  // Every warm-up request that reached the daemon has its answer before shutdown begins.
  await until('all warm-up answers', () => (ops.messages.length >= relay.pulses.length ? true : undefined));
  assert.ok(relay.pulses.length >= 1);
  const before = relay.pulses.length;

  daemon.halt();
  await send('late-1');
  assert.deepEqual((await answer('late-1')).result, { opened: false, reason: 'the gate is stopping' });
  await assert.rejects(relay.pulse(), /pulse refused: the gate is stopping/);
  assert.equal(relay.pulses.length, before, 'nothing energised the line after halt()');
  assert.equal(relay.isActive(), false);
});
