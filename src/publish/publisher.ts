// The MQTT side of the gate: availability on `status`, the outbox drained to
// `sessions`/`events` in order with QoS 1, and remote commands.
//
// Buffering: mqtt.js keeps its own in-memory store of unacknowledged QoS 1
// packets and resends it on reconnect. A second buffer in front of the durable
// outbox would be lost on kill and could reorder on resend, so each connection
// gets a fresh client (reconnectPeriod 0), at most `inflightWindow` messages
// are handed to it, and on close it is ended with force, which fails its
// pending callbacks (mqtt.js flushes `outgoing` when reconnectPeriod is 0 and
// clean is true). The next connection resends from the oldest unacked outbox
// row, so order holds and a duplicate always carries the same messageId.
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { logger } from '../log.js';
import { CommandRouter, type CommandHandler } from './commands.js';
import { buildStatus } from './message.js';
import { backoffMs, baseTopicOf, clientIdOf, readTlsFiles, type GateIdentity, type PublishOptions, type TlsMaterial } from './options.js';
import type { Outbox } from './outbox.js';
import { commandNameOf, topicFor, type CommandName, type GateDetail, type StatusPayload } from './topics.js';
import { CommandLog } from './command-log.js';

export type PublisherState = 'stopped' | 'connecting' | 'online' | 'offline';

export interface PublisherStatus {
  state: PublisherState;
  /** Broker URL without credentials. */
  broker: string;
  baseTopic: string;
  lastError: string | null;
  lastErrorAt: string | null;
  connectedAt: string | null;
  /** Failed connection attempts since the last successful one. */
  failedAttempts: number;
  nextRetryInMs: number | null;
  outboxDepth: number;
  inflight: number;
  droppedUnreported: number;
}

/** What the composition root needs from a publisher. */
export interface Publisher {
  start(): void;
  stop(): Promise<void>;
  onCommand<N extends CommandName>(name: N, handler: CommandHandler<N>): void;
  status(): PublisherStatus;
}

export interface PublisherDeps {
  outbox: Outbox;
  identity: GateIdentity;
  log?: Logger;
  now?: () => number;
  /** For reconnect jitter; injectable so tests are deterministic. */
  random?: () => number;
  /** Request ids already seen; default: the outbox's database. */
  commandLog?: CommandLog;
}

/** Bound on the clean-stop handshake (offline status + in-flight acks) so shutdown keeps its deadline. */
const STOP_FLUSH_MS = 2000;

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

/** A message a site technician can act on. */
export function describeMqttError(e: Error & { code?: string | number }): string {
  const code = e.code;
  if (code === 4 || code === 134) return `broker refused the connection: bad username or password (check mqtt.username/password) [${e.message}]`;
  if (code === 5 || code === 135) return `broker refused the connection: not authorized (check mqtt.username/password and the broker ACL) [${e.message}]`;
  if (typeof code === 'string' && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return `TLS handshake failed: ${e.message} (${code}; check mqtt.caFile/certFile/keyFile and the broker certificate)`;
  }
  if (code === 'ECONNREFUSED') return `broker unreachable: connection refused (${e.message})`;
  return typeof code === 'string' || typeof code === 'number' ? `${e.message} (${code})` : e.message;
}

function setNoDelay(client: MqttClient): void {
  const stream = client.stream as unknown as { setNoDelay?: (v: boolean) => void } | undefined;
  stream?.setNoDelay?.(true);
}

export class MqttPublisher implements Publisher {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly router: CommandRouter;
  private readonly commandLog: CommandLog;
  readonly baseTopic: string;
  private client: MqttClient | null = null;
  private generation = 0;
  private state: PublisherState = 'stopped';
  private stopping = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryAt: number | null = null;
  private failedAttempts = 0;
  private lastError: { text: string; at: number } | null = null;
  private connectedAt: number | null = null;
  private cursor = 0;
  private readonly inflight = new Set<number>();
  private acked: number[] = [];
  private pumpScheduled = false;
  private tls: TlsMaterial = {};
  private listening = false;

  constructor(
    private readonly opts: PublishOptions,
    private readonly deps: PublisherDeps,
  ) {
    this.log = deps.log ?? logger('publish');
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.baseTopic = baseTopicOf(opts, deps.identity);
    this.commandLog = deps.commandLog ?? new CommandLog(deps.outbox.db, this.now);
    this.router = new CommandRouter((name, id, params) => {
      const rec = deps.outbox.recordRemoteOpen(id, params);
      this.log.info({ command: name, requestId: id, auditSeq: rec.audit?.seq }, 'remote command audited');
    });
  }

  onCommand<N extends CommandName>(name: N, handler: CommandHandler<N>): void {
    this.router.register(name, handler);
  }

  /** Throws on a config error (unreadable TLS file); connection problems never throw, they are retried. */
  start(): void {
    if (this.state !== 'stopped') return;
    // Read once: a file vanishing later must not crash a reconnect timer.
    this.tls = readTlsFiles(this.opts);
    this.stopping = false;
    if (!this.listening) this.deps.outbox.onEnqueue(() => this.schedulePump());
    this.listening = true;
    this.connectOnce();
  }

  private health: StatusPayload['health'];

  private statusPayload(state: StatusPayload['state'], reason?: StatusPayload['reason']): string {
    const s = buildStatus(state, this.deps.identity, this.now(), reason);
    if (state === 'online' && this.health) s.health = this.health;
    if (state === 'online' && this.detail) s.detail = this.detail;
    return JSON.stringify(s);
  }

  private detail: GateDetail | undefined;
  private detailKey = '';
  private detailAt = -Infinity;

  /**
   * The gate's parts changed (or not: called at every status snapshot). The retained status
   * is republished when anything but the outbox depth changed, and for the depth alone at
   * most every statusRefreshMs.
   */
  setDetail(d: GateDetail): void {
    const key = JSON.stringify({ ...d, outboxDepth: null });
    const depthChanged = d.outboxDepth !== this.detail?.outboxDepth;
    const due = key !== this.detailKey || (depthChanged && this.now() - this.detailAt >= this.opts.statusRefreshMs);
    if (!due) return;
    this.detail = d;
    this.detailKey = key;
    this.detailAt = this.now();
    const client = this.client;
    if (this.state === 'online' && client?.connected) client.publish(topicFor(this.baseTopic, 'status'), this.statusPayload('online'), { qos: 1, retain: true });
  }

  /** The gate's health changed: the retained status says so at once (and on every connect). */
  setHealth(report: { ok: boolean; summary: string; faults: { part: string; detail: string; sinceMs: number }[] }): void {
    this.health = { ok: report.ok, summary: report.summary, faults: report.faults.map((f) => ({ part: f.part, detail: f.detail, since: new Date(f.sinceMs).toISOString() })) };
    const client = this.client;
    if (this.state === 'online' && client?.connected) client.publish(topicFor(this.baseTopic, 'status'), this.statusPayload('online'), { qos: 1, retain: true });
  }

  private connectOnce(): void {
    const gen = ++this.generation;
    this.state = 'connecting';
    const tls = this.tls;
    const options: IClientOptions = {
      clientId: clientIdOf(this.opts, this.deps.identity),
      clean: true,
      reconnectPeriod: 0,
      keepalive: this.opts.keepaliveSec,
      connectTimeout: this.opts.connectTimeoutMs,
      queueQoSZero: false,
      resubscribe: false,
      rejectUnauthorized: true,
      will: { topic: topicFor(this.baseTopic, 'status'), payload: Buffer.from(this.statusPayload('offline', 'connection lost')), qos: 1, retain: true },
      ...(this.opts.username !== null ? { username: this.opts.username } : {}),
      ...(this.opts.password !== null ? { password: this.opts.password } : {}),
      ...tls,
    };
    this.log.info({ broker: redactUrl(this.opts.brokerUrl), clientId: options.clientId }, 'connecting to broker');
    const client = connect(this.opts.brokerUrl, options);
    this.client = client;
    // mqtt.js leaves Nagle on; with small PUBACKs and delayed ACKs some
    // in-flight windows stall ~40 ms per round trip (measured: 64 -> 4x slower drain).
    setNoDelay(client);
    client.on('connect', () => this.onConnect(gen, client));
    client.on('error', (e: Error) => this.onError(gen, e));
    client.on('close', () => this.onClose(gen, client));
    client.on('message', (topic, payload, packet) => {
      // A retained command would run again on every connect (a door opening with nobody
      // there after each reconnect): commands are only ever taken live.
      if (packet.retain) {
        this.log.warn({ topic }, 'retained command ignored; publish commands without the retain flag');
        return;
      }
      this.onMessage(gen, client, topic, payload);
    });
  }

  private onConnect(gen: number, client: MqttClient): void {
    if (gen !== this.generation) return;
    this.state = 'online';
    this.connectedAt = this.now();
    if (this.failedAttempts > 0) this.log.info({ afterFailedAttempts: this.failedAttempts }, 'broker connection restored');
    this.failedAttempts = 0;
    this.lastError = null;
    client.publish(topicFor(this.baseTopic, 'status'), this.statusPayload('online'), { qos: 1, retain: true });
    client.subscribe(`${this.baseTopic}/cmd/+`, { qos: 1 }, (err) => {
      if (err) this.log.error({ err: err.message }, 'cannot subscribe to commands');
      else this.log.debug({ topic: `${this.baseTopic}/cmd/+` }, 'command topics subscribed');
    });
    const dropped = this.deps.outbox.takeDropReport();
    if (dropped > 0) this.log.warn({ dropped }, 'reporting messages dropped while offline');
    // Everything not acknowledged is resent from the oldest row.
    this.flushAcks(true);
    this.cursor = 0;
    this.inflight.clear();
    this.log.info({ depth: this.deps.outbox.depth() }, 'broker connected; draining outbox');
    this.pump();
  }

  private onError(gen: number, e: Error): void {
    if (gen !== this.generation) return;
    const text = describeMqttError(e);
    if (this.lastError?.text !== text) this.log.error({ broker: redactUrl(this.opts.brokerUrl) }, `mqtt: ${text}`);
    this.lastError = { text, at: this.now() };
  }

  private onClose(gen: number, client: MqttClient): void {
    // Fails the callbacks of packets still in mqtt.js's store (see top of file).
    client.end(true);
    if (gen !== this.generation) return;
    this.client = null;
    this.inflight.clear();
    if (this.stopping) return;
    if (this.state === 'online') this.log.warn('broker connection lost; results stay in the outbox');
    this.state = 'offline';
    this.failedAttempts++;
    const delay = backoffMs(this.failedAttempts, this.opts.reconnectMinMs, this.opts.reconnectMaxMs, this.random());
    this.retryAt = this.now() + delay;
    this.log.warn({ attempt: this.failedAttempts, retryInMs: delay, lastError: this.lastError?.text }, 'will reconnect');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.retryAt = null;
      if (!this.stopping) this.connectOnce();
    }, delay);
  }

  private schedulePump(): void {
    // Enqueue can run inside the caller's transaction; read the rows after it commits.
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /**
   * Deletes acknowledged rows. Batched to half a window per transaction (one
   * fsync each) unless forced or idle; an unflushed ack only costs a duplicate
   * with the same messageId after a crash.
   */
  private flushAcks(force: boolean): void {
    if (this.acked.length === 0) return;
    if (!force && this.inflight.size > 0 && this.acked.length < Math.max(1, this.opts.inflightWindow >> 1)) return;
    const batch = this.acked;
    this.acked = [];
    this.deps.outbox.ack(batch);
  }

  private pump(): void {
    this.flushAcks(false);
    const client = this.client;
    if (client === null || this.state !== 'online' || this.stopping) return;
    const room = this.opts.inflightWindow - this.inflight.size;
    if (room <= 0) return;
    const gen = this.generation;
    for (const row of this.deps.outbox.peek(this.cursor, room)) {
      this.cursor = row.seq;
      this.inflight.add(row.seq);
      client.publish(topicFor(this.baseTopic, row.topic), row.payload, { qos: 1 }, (err) => {
        // A PUBACK is a PUBACK whatever connection it came on; errors mean the
        // connection closed and the row is resent on the next one.
        if (err) return;
        this.acked.push(row.seq);
        if (gen === this.generation) this.inflight.delete(row.seq);
        this.schedulePump();
      });
    }
  }

  private onMessage(gen: number, client: MqttClient, topic: string, payload: Buffer): void {
    const name = commandNameOf(this.baseTopic, topic);
    if (name === null || gen !== this.generation) return;
    const respond = (body: string, requestId: string | null): void => {
      client.publish(`${topic}/response`, body, { qos: 1 }, (err) => {
        if (err) this.log.warn({ command: name, requestId, err: err.message }, 'command response not delivered');
      });
    };
    const id = requestIdOf(payload);
    // A request id seen before (redelivery, replay, after a restart) never runs again: it is
    // answered again with its first outcome, or not at all while that first run is going on.
    const seen = id === null ? null : this.commandLog.claim(name, id);
    if (seen?.state === 'answered') {
      this.log.warn({ command: name, requestId: id }, 'repeated command request: answered again with its first outcome, not run');
      respond(seen.response, id);
      return;
    }
    if (seen?.state === 'running') {
      this.log.warn({ command: name, requestId: id }, 'repeated command request while the first is still running: not run');
      return;
    }
    void this.router.handle(name, payload).then((res) => {
      this.log.info({ command: name, requestId: res.id, ok: res.ok, ...(res.ok ? {} : { error: res.error }) }, 'remote command answered');
      const body = JSON.stringify(res);
      if (id !== null) this.commandLog.answered(name, id, body);
      respond(body, res.id);
    });
  }

  /** Clean stop: retained `offline`, in-flight acks awaited (bounded), DISCONNECT so the will is not fired. */
  async stop(): Promise<void> {
    if (this.stopping || this.state === 'stopped') return;
    this.stopping = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    if (client !== null && client.connected) {
      const flushed = new Promise<void>((resolve) => {
        client.publish(topicFor(this.baseTopic, 'status'), this.statusPayload('offline', 'stopped'), { qos: 1, retain: true }, () => resolve());
      }).then(() => client.endAsync(false));
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), STOP_FLUSH_MS)));
      const r = await Promise.race([flushed.then(() => 'ok' as const, () => 'ok' as const), deadline]);
      clearTimeout(timer);
      if (r === 'timeout') this.log.warn('broker did not acknowledge the offline status in time; closing anyway');
    }
    if (client !== null) await client.endAsync(true).catch(() => undefined);
    this.client = null;
    this.flushAcks(true);
    this.generation++;
    this.state = 'stopped';
    this.log.info('publisher stopped');
  }

  status(): PublisherStatus {
    return {
      state: this.state,
      broker: redactUrl(this.opts.brokerUrl),
      baseTopic: this.baseTopic,
      lastError: this.lastError?.text ?? null,
      lastErrorAt: this.lastError ? new Date(this.lastError.at).toISOString() : null,
      connectedAt: this.state === 'online' && this.connectedAt !== null ? new Date(this.connectedAt).toISOString() : null,
      failedAttempts: this.failedAttempts,
      nextRetryInMs: this.retryAt === null ? null : Math.max(0, this.retryAt - this.now()),
      outboxDepth: this.deps.outbox.depth(),
      inflight: this.inflight.size,
      droppedUnreported: this.deps.outbox.pendingDropped(),
    };
  }
}

/** The request's id, when the payload is JSON with a string or number id; else null. */
function requestIdOf(payload: Buffer): string | null {
  try {
    const v = JSON.parse(payload.toString('utf8')) as { id?: unknown };
    return typeof v.id === 'string' || typeof v.id === 'number' ? String(v.id) : null;
  } catch {
    return null;
  }
}
