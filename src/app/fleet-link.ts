// The daemon's wiring to the site (docs/fleet.md): the fleet node's peer entries go into
// the running gate policy, whether the gate hears its peers goes into its health and the
// policy's offline rule, conflicts become events. Kept out of daemon.ts, which only calls in.
import type { Config } from '../config/types.js';
import { conflictWindowMs } from '../fleet/conflict.js';
import { EntryStore, type StoredConflict } from '../fleet/entry-store.js';
import type { LinkState } from '../fleet/link-state.js';
import { FleetNode } from '../fleet/node.js';
import type { SiteEntry } from '../fleet/topics.js';
import { entryOnMonotonic, type GatePolicy } from '../gate/policy.js';
import { logger } from '../log.js';
import type { GateDetail } from '../publish/topics.js';
import type { Database } from '../store/db.js';
import type { GateHealth } from './health.js';

const log = logger('fleet');
const HOUR_MS = 3_600_000;

export interface FleetLinkDeps {
  config: Config;
  db: Database;
  baseTopic: string;
  version: string;
  health: GateHealth;
  now: () => number;
  mono: () => number;
  /** The policy deciding now and its event (both change when the event does). */
  policy: () => GatePolicy | undefined;
  eventId: () => string | null;
  recordConflict: (c: StoredConflict) => void;
}

export class FleetLink {
  private node: FleetNode | null = null;
  private store: EntryStore | null = null;

  constructor(private readonly deps: FleetLinkDeps) {
    const c = deps.config;
    if (c.fleet.enabled && c.mqtt.brokerUrl !== null) this.store = new EntryStore(deps.db, c.gateId);
  }

  private get fleet(): Config['fleet'] {
    return this.deps.config.fleet;
  }

  /** Site-wide entries are on (fleet.enabled). */
  get enabled(): boolean {
    return this.store !== null;
  }

  start(): void {
    const c = this.deps.config;
    if (c.mqtt.brokerUrl === null || (!c.fleet.enabled && !c.fleet.homeAssistant.enabled)) return;
    if (this.store) {
      const purged = this.store.purge(this.deps.now(), c.store.purgeGraceHours * HOUR_MS);
      if (purged) log.info({ purged }, 'fleet: entries of events no longer cached purged');
      this.deps.health.set('fleet', false, `${c.fleet.offline} rule applies: not connected to the site yet`);
    }
    this.node = new FleetNode({
      options: c.fleet,
      mqtt: { ...c.mqtt, brokerUrl: c.mqtt.brokerUrl },
      identity: { siteId: c.siteId, gateId: c.gateId, version: this.deps.version },
      baseTopic: this.deps.baseTopic,
      store: this.store,
      conflictWindowMs: () => conflictWindowMs(this.deps.config.gate),
      now: this.deps.now,
      mono: this.deps.mono,
      onPeerEntry: (e) => this.onPeerEntry(e),
      onConflict: (x) => this.deps.recordConflict(x),
      onLink: (s) => this.onLink(s),
    });
    this.node.start();
    log.info({ root: this.node.root, offline: c.fleet.offline, homeAssistant: c.fleet.homeAssistant.enabled }, c.fleet.enabled ? 'fleet: sharing entries with the site' : 'fleet: Home Assistant discovery only');
  }

  /** This gate's grant; call inside the transaction that records it. */
  recordGrant(eventId: string, userId: string, atMs: number): void {
    if (!this.store) return;
    this.store.recordOwn(eventId, userId, atMs, !(this.node?.linkState().hearing ?? false));
    // Runs after the caller's transaction commits (setImmediate).
    this.node?.entryRecorded();
  }

  /** This gate's entries (wall-clock ms) with the other gates' added: the latest per attendee. */
  withPeerEntries(eventId: string, own: Iterable<[string, number]>): [string, number][] {
    const latest = new Map<string, number>(own);
    for (const [userId, at] of this.store?.peerEntries(eventId) ?? []) if ((latest.get(userId) ?? -Infinity) < at) latest.set(userId, at);
    return [...latest];
  }

  /** A new policy starts with the offline rule as it stands. */
  configure(policy: GatePolicy): void {
    policy.denyRepeats(this.repeatDetail(this.node?.linkState()));
  }

  detail(): GateDetail['fleet'] {
    if (!this.store || !this.node) return null;
    const s = this.node.status();
    return { hearing: s.link.hearing, offlineRule: this.fleet.offline, detail: s.link.detail, peerEntries: s.peerEntries, unpublished: s.unpublished };
  }

  async stop(): Promise<void> {
    await this.node?.stop();
  }

  /** The `fleet_conflict` event's detail. */
  static conflictEvent(c: StoredConflict): { userId: string; kept: { gateId: string; enteredAt: string; seq: number }; conflict: { gateId: string; enteredAt: string; seq: number } } {
    const side = (e: StoredConflict['kept']): { gateId: string; enteredAt: string; seq: number } => ({ gateId: e.gateId, enteredAt: new Date(e.enteredAtMs).toISOString(), seq: e.seq });
    return { userId: c.userId, kept: side(c.kept), conflict: side(c.conflict) };
  }

  private repeatDetail(s: LinkState | undefined): string | null {
    if (!this.store || this.fleet.offline !== 'deny-repeat' || s === undefined || s.hearing) return null;
    return 'this gate cannot hear the site\'s other gates';
  }

  private onPeerEntry(e: SiteEntry): void {
    if (e.eventId !== this.deps.eventId()) return;
    const policy = this.deps.policy();
    if (!policy) return;
    const mono = entryOnMonotonic(e.enteredAtMs, this.deps.now(), this.deps.mono());
    if (mono === null) {
      log.warn({ gate: e.gateId, userId: e.userId, enteredAt: e.enteredAt }, 'fleet: a peer\'s entry lies in the future (its clock or ours is wrong): not used for anti-passback');
      return;
    }
    policy.noteEntry(e.userId, mono);
  }

  private onLink(s: LinkState): void {
    const rule = this.fleet.offline === 'deny-repeat' ? 'deny-repeat rule applies: attendees with an entry are refused' : 'local rule applies: this gate\'s own anti-passback with the entries it knows';
    this.deps.health.set('fleet', s.hearing, s.hearing ? s.detail : `${s.detail}; ${rule}`);
    const policy = this.deps.policy();
    if (policy) this.configure(policy);
  }
}
