// Shared fixtures for the publish tests: temp SQLite files, a recording MQTT
// subscriber, sample decisions and sessions, and a log capture.
import Database from 'better-sqlite3';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { TestContext } from 'node:test';
import type { PublishOptions } from '../../src/publish/options.js';
import { defaults } from '../../src/publish/options.js';
import { migrate } from '../../src/store/migrations.js';


export function testOptions(brokerUrl: string, over: Partial<PublishOptions> = {}): PublishOptions {
  return { ...defaults, brokerUrl, reconnectMinMs: 50, reconnectMaxMs: 400, keepaliveSec: 2, connectTimeoutMs: 3000, ...over };
}

export interface TempDb {
  db: Database.Database;
  dir: string;
  path: string;
  cleanup(): void;
}

/** A real SQLite file in its own temp dir, WAL like the agent's store, outbox tables migrated. */
export function tempDb(): TempDb {
  const dir = mkdtempSync(join(tmpdir(), 'sg-outbox-'));
  const path = join(dir, 'agent.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  migrate(db);
  return {
    db,
    dir,
    path,
    cleanup() {
      if (db.open) db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { decision, identity, sampleSession } from '../../scripts/publish-samples.js';

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/** An MQTT client that records everything it receives on its subscriptions. */
export class Recorder {
  readonly messages: Received[] = [];
  /** Called with each message as it arrives, after it is recorded. */
  onMessage: ((m: Received) => void) | null = null;
  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const m = { topic, payload: payload.toString(), retain: packet.retain };
      this.messages.push(m);
      this.onMessage?.(m);
    });
  }

  static async connect(url: string, topics: string[], opts: IClientOptions = {}): Promise<Recorder> {
    const client = connect(url, { reconnectPeriod: 100, ...opts });
    const r = new Recorder(client);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(topics, { qos: 1 });
    return r;
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  /** Payloads on `topic`, parsed. */
  json<T>(topic: string): T[] {
    return this.on(topic).map((m) => JSON.parse(m.payload) as T);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** Polls `cond` (real I/O has no event to await) until true or the timeout, then fails with `what`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A pino logger whose JSON lines land in `lines`. */
export function captureLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream).child({ module: 'publish' }), lines };
}

/** First occurrence of each messageId, in arrival order; throws if one id came with two different payloads. */
export function uniqueInOrder(payloads: string[]): string[] {
  const seen = new Map<string, string>();
  const order: string[] = [];
  for (const p of payloads) {
    const id = (JSON.parse(p) as { gate?: { messageId: string }; messageId?: string }).gate?.messageId ?? (JSON.parse(p) as { messageId: string }).messageId;
    const prev = seen.get(id);
    if (prev === undefined) {
      seen.set(id, p);
      order.push(id);
    } else if (prev !== p) {
      throw new Error(`message ${id} arrived twice with different payloads`);
    }
  }
  return order;
}

const stacks = new WeakMap<TestContext, (() => unknown)[]>();

/**
 * Registers cleanup to run after the test, last registered first (node's
 * t.after runs hooks in registration order, which would close a database
 * before the publisher using it is stopped). Every step runs; the first error is rethrown.
 */
export function defer(t: TestContext, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (stack === undefined) {
    const s: (() => unknown)[] = [];
    stack = s;
    stacks.set(t, s);
    t.after(async () => {
      let first: unknown = null;
      for (const step of s.reverse()) {
        try {
          await step();
        } catch (e) {
          first ??= e;
        }
      }
      if (first !== null) throw first;
    });
  }
  stack.push(fn);
}
