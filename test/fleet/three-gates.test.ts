// Three real gates (`gate-agent run`) of one site on one real mosquitto: an attendee
// admitted at A is refused at B and C within the anti-passback window; with the broker
// stopped every gate says it cannot hear its peers (status.json, /healthz) and applies
// its fleet.offline rule; when the broker is back, the entries made meanwhile reach every
// gate. `gate-agent fleet status` lists the three.
import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';
import { defaultConfig } from '../fixtures.js';
import { until } from '../proc.js';
import { Mosquitto } from '../publish/mosquitto.js';
import { enrolledDataDir } from '../app/enrolled.js';
import { runCli } from '../cli/run.js';
import { Gate, walkUps } from './gates.js';

let dir: string;
let template: string;
let walks: Record<string, string>;
const MIN = 60_000;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fleet3-'));
  template = join(dir, 'template');
  await enrolledDataDir(template, ['obama', 'kit']);
  // Kit entered 90 minutes ago (relative to now): outside the 60-minute anti-passback window.
  const store = openStore(defaultConfig(), template);
  store.recordEntry('gala', 'kit', Date.now() - 90 * MIN);
  store.db.close();
  walks = await walkUps(dir, { obama: 'people/obama/1.jpg', kit: 'people/kit_harington/2.jpg' });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const hearing = (n: number) => (s: { fleet: { hearing: boolean; detail: string } | null }): boolean => s.fleet?.hearing === true && s.fleet.detail.startsWith(`hearing ${n} other gate`);

test('admitted at A, refused at B and C; broker gone: fallback applied and reported; broker back: the entries made meanwhile reach every gate', async (t: TestContext) => {
  const broker = await Mosquitto.launch();
  t.after(() => broker.dispose());
  const [a, b, c] = await Promise.all([
    Gate.start(t, dir, template, 'lane-a', broker.url),
    Gate.start(t, dir, template, 'lane-b', broker.url),
    Gate.start(t, dir, template, 'lane-c', broker.url, {
      GATE_AGENT__fleet__offline: '"deny-repeat"',
      GATE_AGENT__api__enabled: 'true',
      GATE_AGENT__api__host: '"127.0.0.1"',
      GATE_AGENT__api__port: '0',
    }),
  ]);
  t.after(() => Promise.all([a, b, c].map((g) => g.stop())));
  await Promise.all([a, b, c].map((g) => g.untilStatus('hearing both peers', hearing(2), 90_000)));

  // The fleet view: all three, online, hearing their peers.
  const fleet = await runCli(['fleet', 'status', '--json', '--broker', broker.url, '--site', 's1', '--wait-ms', '500']);
  assert.equal(fleet.code, 0, fleet.stderr);
  const view = JSON.parse(fleet.stdout) as { site: string; gates: { gateId: string; online: boolean; eventId: string; camera: string; relay: string; outboxDepth: number; fleet: string }[] };
  assert.equal(view.site, 'securegate/s1');
  assert.deepEqual(view.gates.map((g) => [g.gateId, g.online, g.eventId, g.relay, g.fleet]), [
    ['lane-a', true, 'gala', 'sim', 'hearing peers'],
    ['lane-b', true, 'gala', 'sim', 'hearing peers'],
    ['lane-c', true, 'gala', 'sim', 'hearing peers'],
  ]);
  for (const g of view.gates) assert.equal(typeof g.outboxDepth, 'number');
  const text = await runCli(['fleet', 'status', '--broker', broker.url, '--site', 's1', '--wait-ms', '500']);
  assert.match(text.stdout, /^GATE\s+STATE\s+HEALTH\s+EVENT\s+CAMERA\s+RELAY\s+OUTBOX\s+LAST DECISION\s+FLEET$/m);
  for (const id of ['lane-a', 'lane-b', 'lane-c']) assert.match(text.stdout, new RegExp(`^${id}\\s+online\\s`, 'm'));

  // Admitted at A; B and C store A's entry and refuse the same attendee.
  assert.equal(await a.walkUp('obama', walks.obama!), 'granted: obama');
  await until('B and C to hear of the entry at A', () => ([b, c].every((g) => g.peerEntries().some((e) => e.gate_id === 'lane-a' && e.user_id === 'obama')) ? true : undefined));
  const [atB, atC] = await Promise.all([b.walkUp('obama', walks.obama!), c.walkUp('obama', walks.obama!)]);
  assert.equal(atB, 'denied: anti_passback (obama)');
  assert.equal(atC, 'denied: anti_passback (obama)');
  // Each gate's newest decision (status.json) reaches its retained status, and so the fleet view.
  await until('the fleet view to show each gate\'s newest decision', async () => {
    const newest = await Promise.all([a, b, c].map(async (g) => (await g.status())?.decisions[0]));
    const view = JSON.parse((await runCli(['fleet', 'status', '--json', '--broker', broker.url, '--site', 's1', '--wait-ms', '300'])).stdout) as { gates: { lastDecision: string | null; lastDecisionAt: string | null }[] };
    const same = newest.every((d, i) => d !== undefined && view.gates[i]?.lastDecision === `${d.kind} ${d.reason}` && Date.parse(view.gates[i]?.lastDecisionAt ?? '') === Date.parse(d.at));
    return same ? true : undefined;
  }, 15_000);
  // The broker goes away: every gate says so and applies its offline rule.
  await broker.stop();
  const offline = await Promise.all([a, b, c].map((g) => g.untilStatus('fleet fault', (s) => s.fleet?.hearing === false && s.health.parts.fleet?.ok === false)));
  assert.match(offline[0]!.health.parts.fleet!.detail, /cannot hear the site's other gates: .*; local rule applies/);
  assert.match(offline[2]!.health.parts.fleet!.detail, /deny-repeat rule applies/);
  assert.equal(offline[2]!.fleet!.offlineRule, 'deny-repeat');
  const port = /identity endpoint on http:\/\/127\.0\.0\.1:(\d+)/.exec(c.log)?.[1];
  const hz = await fetch(`http://127.0.0.1:${port}/healthz`);
  const hzBody = (await hz.json()) as { checks: { name: string; ready: boolean; reason?: string }[] };
  assert.equal(hz.status, 503);
  assert.match(hzBody.checks.find((x) => x.name === 'fleet')?.reason ?? '', /cannot hear the site's other gates/);

  // Kit's only entry is 90 minutes old: A (local) admits; C (deny-repeat) refuses while it cannot check.
  const [kitA, kitC] = await Promise.all([a.walkUp('kit', walks.kit!), c.walkUp('kit', walks.kit!)]);
  assert.equal(kitA, 'granted: kit');
  assert.equal(kitC, 'denied: peers_unreachable (kit)');

  // The broker returns: A's entry made while offline reaches B and C, marked as such.
  await broker.start();
  await until('the offline entry at A to reach B and C', () => ([b, c].every((g) => g.peerEntries().some((e) => e.gate_id === 'lane-a' && e.user_id === 'kit' && e.offline === 1)) ? true : undefined), 30_000);
  await Promise.all([a, b, c].map((g) => g.untilStatus('hearing both peers again', hearing(2))));
  // Every part that watched the broker (the fleet link, the publisher) reconnects on its own schedule.
  let last = '';
  await until('healthz ready again at C', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`);
    last = `${r.status} ${await r.text()}`;
    return r.status === 200 ? true : undefined;
  }, 30_000).catch((err: Error) => assert.fail(`${err.message}; last answer: ${last}`));
  assert.deepEqual(await Promise.all([a, b, c].map((g) => g.stop())), [0, 0, 0]);
});
