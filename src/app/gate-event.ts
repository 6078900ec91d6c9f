// Which event the gate admits, and the policy deciding for it: the configured event or
// the current one by schedule, re-chosen on housekeeping, after a sync and when another
// process changed the database. A new event starts a new policy (tracks, votes,
// anti-passback from the stored entries) and a new ticket window.
import type { Config } from '../config/types.js';
import { entryOnMonotonic, GatePolicy } from '../gate/policy.js';
import { TicketWindow } from '../gate/ticket.js';
import { logger } from '../log.js';
import type { AttendeeStore, EventRow } from '../store/attendees.js';
import type { FleetLink } from './fleet-link.js';
import type { GateHealth } from './health.js';
import { currentEvent } from './schedule.js';
import type { StackIdentity } from './stack.js';

const log = logger('daemon');

export interface EventKeeperDeps {
  config: Config;
  store: AttendeeStore;
  fleet: FleetLink;
  health: GateHealth;
  /** Its eventId follows the chosen event (outgoing records carry it). */
  identity: StackIdentity;
  now: () => number;
  mono: () => number;
  /** A new policy was made: the frame stage's tracks start afresh too. */
  onNewPolicy: () => void;
}

export class EventKeeper {
  event: EventRow | null = null;
  /** undefined until the first choice; then the policy for `event` (or for none). */
  policy: GatePolicy | undefined;
  /** The ticket shown to the camera (gate.mode verify/either); a new event or gate settings start afresh. */
  tickets: TicketWindow;

  constructor(private readonly deps: EventKeeperDeps) {
    this.tickets = new TicketWindow(deps.config.gate.ticketWindowMs);
  }

  select(): void {
    const { store, config: c } = this.deps;
    const next = c.event.id ? (store.getEvent(c.event.id) ?? null) : currentEvent(store.listEvents(), this.deps.now(), c.gate.earlyOpenMinutes * 60_000);
    if (c.event.id && !next) log.error({ event: c.event.id }, `event ${c.event.id} is not in the local cache: nobody is admitted until it is synced or added`);
    if (next && next.id === this.event?.id) {
      // Same event, maybe a new time window (a sync moved its end): the policy must know.
      if (next.startsAt !== this.event.startsAt || next.endsAt !== this.event.endsAt) {
        this.policy?.setEvent({ startsAt: next.startsAt, endsAt: next.endsAt });
        log.info({ event: next.id, startsAt: next.startsAt, endsAt: next.endsAt }, 'event window changed');
      }
      this.event = next;
      return;
    }
    if (next === null && this.event === null && this.policy) return;
    // The policy first: if it refuses the event (an end before its start), nothing changes.
    this.policy = this.newPolicy(next);
    this.event = next;
    this.deps.identity.eventId = next?.id ?? '';
    log.info({ event: next?.id ?? null }, next ? `admitting attendees of event ${next.id}` : 'no current event: nobody is admitted');
    this.deps.health.set('event', next !== null, next ? `admitting attendees of event ${next.id}` : c.event.id ? `event ${c.event.id} is not in the local cache: nobody is admitted` : 'no current event: nobody is admitted');
  }

  /** New gate settings (a reload): a new policy for the same event. */
  renewPolicy(): void {
    this.policy = this.newPolicy(this.event);
  }

  /**
   * The event's stored entries (wall clock) on the policy's monotonic timeline. An entry
   * from the future means the clock stepped back since (or was wrong then): it is logged
   * and not trusted to lock anyone out.
   */
  private entriesNow(eventId: string): [string, number][] {
    const wall = this.deps.now();
    const mono = this.deps.mono();
    const out: [string, number][] = [];
    const stored = this.deps.store.entries(eventId);
    for (const [userId, at] of this.deps.fleet.withPeerEntries(eventId, stored)) {
      const m = entryOnMonotonic(at, wall, mono);
      if (m === null) log.warn({ userId, entryAt: new Date(at).toISOString(), now: new Date(wall).toISOString() }, 'a stored entry lies in the future (the clock went back?): not used for anti-passback');
      else out.push([userId, m]);
    }
    return out;
  }

  /** A policy for the event, with its anti-passback entries from the store. */
  private newPolicy(e: EventRow | null): GatePolicy {
    this.deps.onNewPolicy();
    const c = this.deps.config;
    this.tickets = new TicketWindow(c.gate.ticketWindowMs);
    const policy = new GatePolicy(
      { ...c.gate, liveness: c.liveness, initialEntries: e ? this.entriesNow(e.id) : [] },
      e ? { startsAt: e.startsAt, endsAt: e.endsAt } : { startsAt: null, endsAt: null },
    );
    this.deps.fleet.configure(policy);
    return policy;
  }
}
