// Two buildings, each with its own mosquitto, joined by a mosquitto bridge (the config
// below is the one docs/fleet.md shows): a gate in each. The entry made in building 1
// refuses the attendee in building 2; when the link between the buildings breaks, the gate
// in building 2 still hears its own broker but not its peer, and says so on its retained
// MQTT status; when the link returns, it hears it again. Building 2's gate also announces itself to Home
// Assistant, and the announced "open door" button opens its relay.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StatusPayload } from '../../src/publish/topics.js';
import { until } from '../proc.js';
import { Mosquitto } from '../publish/mosquitto.js';
import { Recorder } from '../publish/helpers.js';
import { enrolledDataDir } from '../app/enrolled.js';
import { runCli } from '../cli/run.js';
import { Gate, walkUps } from './gates.js';

let dir: string;
let template: string;
let walks: Record<string, string>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet-bridge-'));
  template = join(dir, 'template');
  await enrolledDataDir(template, ['obama']);
  walks = await walkUps(dir, { obama: 'people/obama/1.jpg' });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The bridge section of building 2's mosquitto.conf: the site's topics both ways, QoS 1. */
export function bridgeConfig(remotePort: number): string[] {
  return ['connection building-1', `address 127.0.0.1:${remotePort}`, 'topic securegate/# both 1', 'cleansession false', 'keepalive_interval 2', 'restart_timeout 1 2', 'notifications false'];
}

test('across a mosquitto bridge: refused in building 2 after entering in building 1; a silent peer is reported on MQTT; Home Assistant discovery and its open button', async (t: TestContext) => {
  const b1 = await Mosquitto.launch();
  t.after(() => b1.dispose());
  const b2 = await Mosquitto.launch({ extraConfig: bridgeConfig(b1.port) });
  t.after(() => b2.dispose());
  const ha = await Recorder.connect(b2.url, ['homeassistant/#', 'securegate/s1/hall-2/status', 'securegate/s1/hall-2/cmd/open/response']);
  t.after(() => ha.close());

  const [g1, g2] = await Promise.all([
    Gate.start(t, dir, template, 'hall-1', b1.url),
    Gate.start(t, dir, template, 'hall-2', b2.url, { GATE_AGENT__fleet__homeAssistant__enabled: 'true' }),
  ]);
  t.after(() => Promise.all([g1, g2].map((g) => g.stop())));
  const hearsOne = (s: { fleet: { hearing: boolean; detail: string } | null }): boolean => s.fleet?.hearing === true && s.fleet.detail.startsWith('hearing 1 other gate');
  await Promise.all([g1, g2].map((g) => g.untilStatus('hearing the other building', hearsOne, 90_000)));

  // Both gates are listed from building 2's broker (building 1's status came over the bridge).
  const view = JSON.parse((await runCli(['fleet', 'status', '--json', '--broker', b2.url, '--site', 's1', '--wait-ms', '500'])).stdout) as { gates: { gateId: string; online: boolean }[] };
  assert.deepEqual(view.gates.map((g) => [g.gateId, g.online]), [['hall-1', true], ['hall-2', true]]);

  // Home Assistant discovery: four retained entities on the gate's own topics.
  const configs = await until('the discovery configs', () => {
    const c = ha.messages.filter((m) => m.topic.startsWith('homeassistant/'));
    return c.length >= 4 ? c : undefined;
  });
  const node = 'securegate_s1_hall-2';
  assert.deepEqual(configs.map((m) => m.topic).sort(), [`homeassistant/binary_sensor/${node}/relay/config`, `homeassistant/binary_sensor/${node}/status/config`, `homeassistant/button/${node}/open/config`, `homeassistant/sensor/${node}/last_decision/config`]);
  // Retained: Home Assistant started later still finds them.
  const late = await Recorder.connect(b2.url, ['homeassistant/#']);
  t.after(() => late.close());
  await until('the retained discovery configs', () => (late.messages.length >= 4 ? true : undefined));
  assert.ok(late.messages.every((m) => m.retain), 'discovery configs are retained');
  const parsed = configs.map((m) => JSON.parse(m.payload.toString()) as Record<string, unknown>);
  for (const p of parsed) {
    assert.equal(p.availability_topic, 'securegate/s1/hall-2/status');
    assert.deepEqual((p.device as { identifiers: string[] }).identifiers, [node]);
    assert.match(String(p.unique_id), new RegExp(`^${node}_`));
  }
  const button = parsed.find((p) => p.command_topic !== undefined)!;
  assert.equal(button.command_topic, 'securegate/s1/hall-2/cmd/open');
  // Pressing the button: Home Assistant renders the command template (its now() is the press time) and publishes it.
  const rendered = String(button.command_template).replace('{{ now().timestamp() }}', String(Date.now() / 1000));
  await ha.client.publishAsync(String(button.command_topic), rendered, { qos: 1 });
  const answer = await until('the open response', () => ha.json<{ id: string; ok: boolean; result?: { opened: boolean } }>('securegate/s1/hall-2/cmd/open/response').at(-1));
  assert.deepEqual([answer.id.startsWith('ha-'), answer.ok, answer.result?.opened], [true, true, true]);
  await g2.untilStatus('the pulse from the button', (s) => s.relay?.lastPulse?.ok === true);

  // Entered in building 1; refused in building 2 once the entry came over the bridge.
  assert.equal(await g1.walkUp('obama', walks.obama!), 'granted: obama');
  await until('the entry to cross the bridge', () => (g2.peerEntries().some((e) => e.gate_id === 'hall-1' && e.user_id === 'obama') ? true : undefined));
  assert.equal(await g2.walkUp('obama', walks.obama!), 'denied: anti_passback (obama)');

  // The link between the buildings breaks (building 1's broker frozen: no last wills, no
  // goodbye, as in a network split): hall-2 still has its broker, but hall-1, whose retained
  // status there still says online, falls silent; hall-2's retained status says so.
  b1.freeze();
  const status = (): StatusPayload | undefined => ha.json<StatusPayload>('securegate/s1/hall-2/status').at(-1);
  await until('hall-2 to report its silent peer over MQTT', () => (status()?.health?.faults.some((f) => f.part === 'fleet' && /hall-1 silent/.test(f.detail)) ? true : undefined), 30_000).catch(async (err: Error) => {
    throw new Error(`${err.message}; last status ${JSON.stringify(status())}; status.json fleet ${JSON.stringify((await g2.status())?.fleet)}\n${g2.log.slice(-3000)}`);
  });
  assert.equal(status()?.state, 'online');
  assert.equal(status()?.detail?.fleet?.hearing, false);
  b1.thaw();
  await until('hall-2 hearing hall-1 again', () => (status()?.health?.ok === true && status()?.detail?.fleet?.hearing === true ? true : undefined), 30_000);
  assert.deepEqual(await Promise.all([g1, g2].map((g) => g.stop())), [0, 0]);
});
