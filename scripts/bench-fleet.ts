// bench:fleet: site-wide entries through a local mosquitto to N gates (FleetNode, the
// daemon's own MQTT side, each with its own SQLite file; no face pipeline). Prints, per N:
//   burst: K entries made across the gates at once, entries/s until every gate knows all;
//   one at a time: the delay from a grant's commit until the last other gate has stored it.
// Usage: npm run bench:fleet [-- --gates 4,10 --entries 500 --singles 20]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryStore } from '../src/fleet/entry-store.js';
import { FleetNode } from '../src/fleet/node.js';
import { fleetDefaults } from '../src/config/sections/fleet.js';
import { defaults as publishDefaults } from '../src/publish/options.js';
import { openDatabase } from '../src/store/db.js';
import { percentile } from './stats.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? def) : def;
};
const GATES = arg('gates', '4,10').split(',').map(Number);
const ENTRIES = Number(arg('entries', '500'));
const SINGLES = Number(arg('singles', '20'));
const MOSQUITTO = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function startBroker(dir: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, ['user root', 'persistence false', 'max_queued_messages 1000000', 'log_dest stderr', 'log_type error', `listener ${port} 127.0.0.1`, 'allow_anonymous true'].join('\n') + '\n');
  const proc = spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
  const end = performance.now() + 5000;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const c = createConnection({ port, host: '127.0.0.1' });
      c.once('connect', () => (c.destroy(), r(true)));
      c.once('error', () => r(false));
    });
    if (ok) break;
    if (performance.now() > end) throw new Error('mosquitto did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { url: `mqtt://127.0.0.1:${port}`, proc };
}

const sleepUntil = async (cond: () => boolean, what: string, timeoutMs = 120_000): Promise<void> => {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
};

async function run(n: number, brokerUrl: string, dir: string): Promise<void> {
  const now = Date.now();
  // userId -> gates that stored it, and when the last one did.
  const known = new Map<string, number>();
  const lastAt = new Map<string, number>();
  const gates = Array.from({ length: n }, (_, i) => {
    const db = openDatabase(join(dir, `n${n}-g${i}`));
    const store = new EntryStore(db, `g${i}`);
    const node = new FleetNode({
      options: { ...fleetDefaults, enabled: true },
      mqtt: { ...publishDefaults, brokerUrl, reconnectMinMs: 100 },
      identity: { siteId: `bench-${n}`, gateId: `g${i}`, version: 'bench' },
      baseTopic: `securegate/bench-${n}/g${i}`,
      store,
      conflictWindowMs: () => 0,
      onPeerEntry: (e) => {
        known.set(e.userId, (known.get(e.userId) ?? 0) + 1);
        lastAt.set(e.userId, performance.now());
      },
    });
    return { db, store, node };
  });
  for (const g of gates) g.node.start();
  await sleepUntil(() => gates.every((g) => g.node.status().connected), 'every gate connected');
  const everyone = (u: string): boolean => known.get(u) === n - 1;

  // Burst: ENTRIES grants spread over the gates, committed at once.
  const t0 = performance.now();
  for (let k = 0; k < ENTRIES; k++) {
    const g = gates[k % n]!;
    g.store.recordOwn('gala', `burst-${k}`, now + k, false);
    g.node.entryRecorded();
  }
  await sleepUntil(() => known.size === ENTRIES && [...known.keys()].every(everyone), 'every burst entry at every gate');
  const burstMs = performance.now() - t0;

  // One at a time: each grant waits until every other gate has stored it.
  const delays: number[] = [];
  for (let k = 0; k < SINGLES; k++) {
    const g = gates[k % n]!;
    const u = `single-${k}`;
    const ts = performance.now();
    g.store.recordOwn('gala', u, now + ENTRIES + k, false);
    g.node.entryRecorded();
    await sleepUntil(() => everyone(u), `entry ${u} at every gate`);
    delays.push(lastAt.get(u)! - ts);
  }
  await Promise.all(gates.map((g) => g.node.stop()));
  for (const g of gates) g.db.close();
  const deliveries = ENTRIES * (n - 1);
  console.log(
    `${String(n).padStart(3)} gates: burst of ${ENTRIES} entries known at every gate in ${burstMs.toFixed(0)} ms = ${(ENTRIES / (burstMs / 1000)).toFixed(0)} entries/s ` +
      `(${(deliveries / (burstMs / 1000)).toFixed(0)} deliveries/s); one at a time (${SINGLES}): until every gate knows median ${percentile(delays, 50).toFixed(1)} ms, p95 ${percentile(delays, 95).toFixed(1)} ms`,
  );
  return;
}

const dir = mkdtempSync(join(tmpdir(), 'bench-fleet-'));
const broker = await startBroker(dir);
try {
  console.log(`bench:fleet: mosquitto on loopback, retained QoS 1 entries, SQLite WAL synchronous=FULL per gate, all gates in this one process`);
  for (const n of GATES) await run(n, broker.url, dir);
} finally {
  broker.proc.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
