// This gate's side of the site (MQTT I/O): its own connection to the site's broker
// (client id <mqtt client id>-fleet), publishing its entries retained with QoS 1 until
// the broker acknowledges them, a heartbeat, and Home Assistant discovery; hearing the
// other gates' entries, heartbeats and retained statuses. Pure rules: topics.ts,
// conflict.ts, link-state.ts, discovery.ts.
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { logger } from '../log.js';
import { backoffMs, clientIdOf, describeMqttError, readTlsFiles, redactUrl, type PublishOptions, type TlsMaterial } from '../publish/index.js';
import { conflictOf } from './conflict.js';
import { discoveryMessages } from './discovery.js';
import type { EntryStore, StoredConflict } from './entry-store.js';
import { linkState, type LinkState } from './link-state.js';
import type { FleetOptions } from '../config/sections/fleet.js';
import { buildEntry, fleetTopics, gateOfHeartbeatTopic, gateOfStatusTopic, parseEntry, parseHeartbeat, siteRootOf, type Heartbeat, type SiteEntry } from './topics.js';
import { errorText } from '../errors.js';

export interface FleetNodeDeps {
  options: FleetOptions;
  mqtt: PublishOptions;
  identity: { siteId: string; gateId: string; version: string };
  /** The gate's own base topic (its status and commands), for Home Assistant discovery. */
  baseTopic: string;
  /** Null when only Home Assistant discovery is on (fleet.enabled false). */
  store: EntryStore | null;
  /** The window within which two grants of one attendee conflict (conflictWindowMs), read when an entry arrives. */
  conflictWindowMs: () => number;
  now?: () => number;
  mono?: () => number;
  log?: Logger;
  /** A peer's entry, new or newer than the one stored (called after it is stored). */
  onPeerEntry?: (e: SiteEntry) => void;
  /** A conflict this gate is part of, found for the first time. */
  onConflict?: (c: StoredConflict) => void;
  /** Whether the gate hears its peers changed (or its reason did). */
  onLink?: (s: LinkState) => void;
}

export interface FleetNodeStatus {
  connected: boolean;
  link: LinkState;
  peers: { gateId: string; expected: boolean; heardAgoMs: number | null }[];
  unpublished: number;
  peerEntries: number;
}

export class FleetNode {
  readonly root: string;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly mono: () => number;
  private client: MqttClient | null = null;
  private generation = 0;
  private connectedSince: number | null = null;
  private lastError: string | null = null;
  private failedAttempts = 0;
  private stopping = true;
  private retryTimer: NodeJS.Timeout | null = null;
  private beatTimer: NodeJS.Timeout | null = null;
  private tls: TlsMaterial = {};
  private readonly peers = new Map<string, { expected: boolean; lastHeardMono: number | null }>();
  private readonly inflight = new Set<number>();
  private cursor = 0;
  private pumpScheduled = false;
  private link: LinkState;

  constructor(private readonly deps: FleetNodeDeps) {
    this.root = siteRootOf(deps.options.siteTopic, deps.identity.siteId);
    this.log = deps.log ?? logger('fleet');
    this.now = deps.now ?? Date.now;
    this.mono = deps.mono ?? (() => performance.now());
    this.link = { hearing: false, silentPeers: [], heardPeers: [], detail: 'not connected yet' };
  }

  start(): void {
    if (!this.stopping) return;
    this.stopping = false;
    this.tls = readTlsFiles(this.deps.mqtt);
    this.connectOnce();
    if (this.deps.store) this.beatTimer = setInterval(() => this.beat(), this.deps.options.heartbeatMs);
    this.evaluate();
  }

  /** A new own entry was committed: publish it. */
  entryRecorded(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  linkState(): LinkState {
    return this.link;
  }

  status(): FleetNodeStatus {
    const mono = this.mono();
    return {
      connected: this.client?.connected === true && this.connectedSince !== null,
      link: this.link,
      peers: [...this.peers].map(([gateId, p]) => ({ gateId, expected: p.expected, heardAgoMs: p.lastHeardMono === null ? null : Math.round(mono - p.lastHeardMono) })),
      unpublished: this.deps.store?.unpublishedCount() ?? 0,
      peerEntries: this.deps.store?.peerEntryCount() ?? 0,
    };
  }

  private connectOnce(): void {
    const gen = ++this.generation;
    const m = this.deps.mqtt;
    const options: IClientOptions = {
      clientId: `${clientIdOf(m, this.deps.identity)}-fleet`,
      clean: true,
      reconnectPeriod: 0,
      keepalive: m.keepaliveSec,
      connectTimeout: m.connectTimeoutMs,
      queueQoSZero: false,
      resubscribe: false,
      rejectUnauthorized: true,
      ...(m.username !== null ? { username: m.username } : {}),
      ...(m.password !== null ? { password: m.password } : {}),
      ...this.tls,
    };
    const client = connect(m.brokerUrl, options);
    this.client = client;
    client.on('connect', () => this.onConnect(gen, client));
    client.on('error', (e: Error) => {
      if (gen !== this.generation) return;
      const text = describeMqttError(e);
      if (text !== this.lastError) this.log.warn({ broker: redactUrl(m.brokerUrl) }, `fleet: ${text}`);
      this.lastError = text;
    });
    client.on('close', () => this.onClose(gen, client));
    client.on('message', (topic, payload) => {
      if (gen === this.generation) this.onMessage(topic, payload);
    });
  }

  private onConnect(gen: number, client: MqttClient): void {
    if (gen !== this.generation) return;
    this.failedAttempts = 0;
    this.lastError = null;
    // Peers must be heard again on this connection; they get peerSilenceMs from now.
    for (const p of this.peers.values()) p.lastHeardMono = null;
    const topics = this.deps.store ? [fleetTopics.entries(this.root), fleetTopics.heartbeats(this.root), fleetTopics.statuses(this.root)] : [];
    const ready = (): void => {
      if (gen !== this.generation) return;
      this.connectedSince = this.mono();
      this.log.info({ root: this.root, peers: this.peers.size }, 'fleet: connected to the site');
      this.publishDiscovery(client);
      this.cursor = 0;
      this.inflight.clear();
      this.pump();
      this.beat();
      this.evaluate();
    };
    if (topics.length === 0) return ready();
    client.subscribe(topics, { qos: 1 }, (err) => {
      if (err) {
        this.lastError = `cannot subscribe to the site's topics: ${err.message}`;
        this.log.error({ err: err.message }, 'fleet: cannot subscribe to the site topics (check the broker ACL)');
        return;
      }
      ready();
    });
  }

  private onClose(gen: number, client: MqttClient): void {
    client.end(true);
    if (gen !== this.generation) return;
    this.client = null;
    this.connectedSince = null;
    this.inflight.clear();
    if (this.stopping) return;
    this.failedAttempts++;
    const delay = backoffMs(this.failedAttempts, this.deps.mqtt.reconnectMinMs, this.deps.mqtt.reconnectMaxMs, Math.random());
    this.evaluate();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopping) this.connectOnce();
    }, delay);
  }

  private heard(gateId: string): void {
    if (gateId === this.deps.identity.gateId) return;
    const p = this.peers.get(gateId) ?? { expected: false, lastHeardMono: null };
    p.lastHeardMono = this.mono();
    this.peers.set(gateId, p);
  }

  private onMessage(topic: string, payload: Buffer): void {
    const statusGate = gateOfStatusTopic(this.root, topic);
    if (statusGate !== null) return this.onStatus(statusGate, payload);
    const beatGate = gateOfHeartbeatTopic(this.root, topic);
    if (beatGate !== null) {
      const hb = parseHeartbeat(payload);
      if (hb.ok) this.heard(hb.value.gateId);
      return;
    }
    if (payload.length === 0) return; // a cleared retained entry
    const parsed = parseEntry(this.root, topic, payload);
    if (!parsed.ok) {
      this.log.warn({ topic }, `fleet: ${parsed.error}`);
      return;
    }
    const e = parsed.value;
    if (e.gateId === this.deps.identity.gateId) return; // our own, echoed (already in gate_entries)
    this.heard(e.gateId);
    this.onPeerEntry(e);
  }

  private onStatus(gateId: string, payload: Buffer): void {
    if (gateId === this.deps.identity.gateId) return;
    let expected: boolean;
    try {
      const s = JSON.parse(payload.toString()) as { state?: unknown; detail?: { fleet?: unknown } };
      expected = s.state === 'online' && s.detail?.fleet !== null && s.detail?.fleet !== undefined;
    } catch {
      expected = false;
    }
    const p = this.peers.get(gateId) ?? { expected, lastHeardMono: null };
    p.expected = expected;
    this.peers.set(gateId, p);
    this.evaluate();
  }

  private onPeerEntry(e: SiteEntry): void {
    const store = this.deps.store;
    if (!store) return;
    const now = this.now();
    let conflict: StoredConflict | null = null;
    const stored = store.db.transaction(() => {
      const known = store.known(e.eventId, e.userId).filter((k) => !(k.gateId === e.gateId && k.seq === e.seq));
      if (store.upsertPeer(e, now) === 'duplicate') return false;
      const c = conflictOf({ gateId: e.gateId, enteredAtMs: e.enteredAtMs, seq: e.seq }, known, this.deps.conflictWindowMs());
      if (c && store.recordConflict(e.eventId, e.userId, c, now)) conflict = { ...c, eventId: e.eventId, userId: e.userId, foundAtMs: now };
      return true;
    })();
    if (!stored) return;
    this.log.debug({ gate: e.gateId, event: e.eventId, seq: e.seq }, 'fleet: peer entry');
    this.deps.onPeerEntry?.(e);
    const c = conflict as StoredConflict | null;
    if (c) {
      const mine = c.kept.gateId === this.deps.identity.gateId || c.conflict.gateId === this.deps.identity.gateId;
      this.log.warn({ userId: c.userId, event: c.eventId, kept: c.kept.gateId, conflict: c.conflict.gateId }, `fleet: ${c.userId} was granted at ${c.kept.gateId} and ${c.conflict.gateId} within the window; both recorded, ${c.kept.gateId}'s is the entry`);
      if (mine) this.deps.onConflict?.(c);
    }
  }

  private pump(): void {
    const store = this.deps.store;
    const client = this.client;
    if (!store || !client?.connected || this.connectedSince === null || this.stopping) return;
    const room = this.deps.mqtt.inflightWindow - this.inflight.size;
    if (room <= 0) return;
    const gen = this.generation;
    for (const row of store.unpublished(this.cursor, room)) {
      this.cursor = row.seq;
      this.inflight.add(row.seq);
      const entry = buildEntry({ siteId: this.deps.identity.siteId, gateId: this.deps.identity.gateId, eventId: row.eventId, userId: row.userId, enteredAtMs: row.enteredAtMs, seq: row.seq, offline: row.offline });
      // Retained: a gate that connects later (a restart, a broker without persistence that
      // came back and got it again from here) learns every attendee's last entry at once.
      client.publish(fleetTopics.entry(this.root, entry), JSON.stringify(entry), { qos: 1, retain: true }, (err) => {
        if (err || gen !== this.generation) return;
        this.inflight.delete(row.seq);
        try {
          store.markPublished([row.seq]);
        } catch (e) {
          this.log.error({ err: errorText(e) }, 'fleet: cannot mark an entry published; it will be sent again');
        }
        this.entryRecorded();
      });
    }
  }

  private beat(): void {
    this.evaluate();
    const client = this.client;
    if (!this.deps.store || !client?.connected || this.connectedSince === null) return;
    const hb: Heartbeat = { v: 1, gateId: this.deps.identity.gateId, lastSeq: this.deps.store.lastSeq(), at: new Date(this.now()).toISOString() };
    client.publish(fleetTopics.heartbeat(this.root, this.deps.identity.gateId), JSON.stringify(hb), { qos: 0 });
  }

  private publishDiscovery(client: MqttClient): void {
    const ha = this.deps.options.homeAssistant;
    if (!ha.enabled) return;
    const msgs = discoveryMessages({ prefix: ha.discoveryPrefix, siteId: this.deps.identity.siteId, gateId: this.deps.identity.gateId, baseTopic: this.deps.baseTopic, version: this.deps.identity.version });
    for (const m of msgs) client.publish(m.topic, JSON.stringify(m.payload), { qos: 1, retain: true });
    this.log.info({ entities: msgs.length, prefix: ha.discoveryPrefix }, 'fleet: Home Assistant discovery published');
  }

  private evaluate(): void {
    if (!this.deps.store) return;
    const next = linkState({
      connected: this.client?.connected === true && this.connectedSince !== null,
      connectedSinceMono: this.connectedSince,
      connectionError: this.lastError,
      peers: [...this.peers].map(([gateId, p]) => ({ gateId, ...p })),
      nowMono: this.mono(),
      peerSilenceMs: this.deps.options.peerSilenceMs,
    });
    const changed = next.hearing !== this.link.hearing || next.detail !== this.link.detail;
    this.link = next;
    if (changed) this.deps.onLink?.(next);
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.beatTimer) clearInterval(this.beatTimer);
    this.retryTimer = null;
    this.beatTimer = null;
    const client = this.client;
    this.client = null;
    this.generation++;
    if (client) await client.endAsync(!client.connected).catch(() => undefined);
  }
}
