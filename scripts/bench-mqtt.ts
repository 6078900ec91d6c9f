// Publish benchmark against a local mosquitto:
//   1. drain: time for a backlog of N messages in the outbox to be acknowledged;
//   2. steady: decisions recorded one per event-loop turn while online, end to
//      end (transaction + publish + PUBACK + delete).
// Median of --runs. Run: node dist/scripts/bench-mqtt.js [--messages 10000] [--runs 3] [--synchronous FULL|NORMAL]
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { MqttPublisher } from '../src/publish/publisher.js';
import { Outbox } from '../src/publish/outbox.js';
import { defaults } from '../src/publish/options.js';
import { Mosquitto } from './mosquitto.js';
import { decision, identity, sampleSession } from './publish-samples.js';
import { migrate } from '../src/store/migrations.js';

const { values } = parseArgs({
  options: { messages: { type: 'string', default: '10000' }, runs: { type: 'string', default: '3' }, synchronous: { type: 'string', default: 'FULL' } },
});
const N = Number(values.messages);
const RUNS = Number(values.runs);
const STEADY_N = Math.min(N, 5000);
const silent = pino({ level: 'silent' });

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

// Polled every 2 ms with an O(log n) probe, so the measuring costs the drain little.
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 2));
}
const empty = (outbox: Outbox) => () => outbox.peek(0, 1).length === 0;

async function oneRun(broker: Mosquitto): Promise<{ enqueueMs: number; drainMs: number; steadyPerSec: number; bytes: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-'));
  const db = new Database(join(dir, 'agent.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${values.synchronous}`);
    migrate(db);
    const outbox = new Outbox(db, { identity, maxMessages: 1_000_000, log: silent });
    // Half matches with the full identity session, half unknown faces.
    let t = performance.now();
    db.transaction(() => {
      for (let i = 0; i < N; i++) outbox.recordDecision(decision(i), i % 2 ? sampleSession() : null);
    })();
    const enqueueMs = performance.now() - t;
    const bytes = outbox.peek(0, N).reduce((a, r) => a + Buffer.byteLength(r.payload), 0);

    const pub = new MqttPublisher({ ...defaults, brokerUrl: broker.url }, { outbox, identity, log: silent });
    t = performance.now();
    pub.start();
    await until(empty(outbox));
    const drainMs = performance.now() - t;

    t = performance.now();
    for (let i = 0; i < STEADY_N; i++) {
      outbox.recordDecision(decision(i), i % 2 ? sampleSession() : null);
      await new Promise((r) => setImmediate(r));
    }
    await until(empty(outbox));
    const steadyPerSec = STEADY_N / ((performance.now() - t) / 1000);
    await pub.stop();
    return { enqueueMs, drainMs, steadyPerSec, bytes };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const broker = await Mosquitto.launch();
try {
  const runs = [];
  for (let r = 0; r < RUNS; r++) {
    const x = await oneRun(broker);
    runs.push(x);
    console.log(
      `run ${r + 1}: enqueue ${N} in ${x.enqueueMs.toFixed(0)} ms; drain ${N} (${(x.bytes / 1e6).toFixed(1)} MB) in ${x.drainMs.toFixed(0)} ms = ${(N / (x.drainMs / 1000)).toFixed(0)} msg/s; steady ${x.steadyPerSec.toFixed(0)} decisions/s`,
    );
  }
  const drain = median(runs.map((x) => x.drainMs));
  console.log(`\nmosquitto local, SQLite WAL synchronous=${values.synchronous}, inflightWindow ${defaults.inflightWindow}, median of ${RUNS}:`);
  console.log(`  drain backlog of ${N}: ${drain.toFixed(0)} ms (${(N / (drain / 1000)).toFixed(0)} msg/s)`);
  console.log(`  steady publish rate (one decision per transaction, to PUBACK and delete): ${median(runs.map((x) => x.steadyPerSec)).toFixed(0)} decisions/s`);
  console.log(`  enqueue ${N} in one transaction: ${median(runs.map((x) => x.enqueueMs)).toFixed(0)} ms`);
} finally {
  await broker.dispose();
}
