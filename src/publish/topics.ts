import type { AttendeeSession } from '../store/session-types.js';
// Every MQTT topic the gate agent uses and the payload carried on it, in one
// place, so the daemon, the tests and docs/mqtt.md cannot drift apart (cf.
// zigbee2mqtt lib/types/api.ts). Topics are relative to the base topic
// `securegate/<siteId>/<gateId>` unless the config overrides it.

/** The attendee's session in the identity contract's shape; one definition, in the store. */
export type IdentitySession = AttendeeSession;

/** The top-level keys of the identity contract, in the contract's order. */
export const IDENTITY_SESSION_KEYS = [
  'userInfo',
  'authentication',
  'kyc',
  'status',
  'qrId',
  'activities',
  'metadata',
  'visitedOrder',
] as const satisfies readonly (keyof IdentitySession)[];

export type Decision = 'granted' | 'denied' | 'unknown';

/** Where this result sits in the local audit hash chain (see audit.ts). */
export interface AuditRef {
  seq: number;
  hash: string;
  prevHash: string;
}

/** The gate's own account of one decision; present on every sessions message. */
export interface GateBlock {
  messageId: string;
  gateId: string;
  siteId: string;
  eventId: string;
  decision: Decision;
  reason: string;
  /** Cosine similarity of the best gallery match, null when nothing was compared. */
  similarity: number | null;
  /** The similarity threshold the gate decided at: match.threshold raised for the event's attendee count (identification.targetFpir). */
  threshold?: number;
  /** Milliseconds spent in each pipeline stage (detect, align, embed, match, decide, ...). */
  timingsMs: Record<string, number>;
  /** ISO 8601 time of the decision. */
  timestamp: string;
  modelId: string;
  /** Liveness evidence behind the decision: mean live probability (0..1) over `frames` frames; absent when liveness is off. */
  liveness?: { score: number; frames: number };
  audit: AuditRef;
}

/** `sessions`: a match carries the identity session plus `gate`; an unknown face only `gate`. */
export type SessionMessage = (IdentitySession & { gate: GateBlock }) | { gate: GateBlock };

/** `status` (retained): availability of the gate. */
export interface StatusPayload {
  state: 'online' | 'offline';
  gateId: string;
  siteId: string;
  eventId: string;
  modelId: string;
  version: string;
  /** ISO 8601 time the state was entered (for the will: when the connection it guards was made). */
  timestamp: string;
  /** Why the gate is offline: `stopped` (clean stop) or `connection lost` (last will). */
  reason?: 'stopped' | 'connection lost';
  /**
   * While online: the gate's own account of itself (docs/mqtt.md). `ok` false when any part
   * (camera, relay, store, event, api, broker) is failing, each fault with why and since when.
   */
  health?: { ok: boolean; summary: string; faults: { part: string; detail: string; since: string }[] };
  /** While online: what `gate-agent fleet status` and Home Assistant show (docs/fleet.md); no names, no KYC data. */
  detail?: GateDetail;
}

/** The gate's parts as its retained status carries them. */
export interface GateDetail {
  camera: { description: string; state: string } | null;
  relay: { driver: string; active: boolean } | null;
  outboxDepth: number | null;
  /** The newest decision: when (ISO 8601), grant or deny, and why (no attendee). */
  lastDecision: { at: string; kind: 'grant' | 'deny'; reason: string } | null;
  /** Site-wide entries (fleet.enabled): whether the gate hears its peers, and the rule it applies when not. */
  fleet: { hearing: boolean; offlineRule: string; detail: string; peerEntries: number; unpublished: number } | null;
}

/** Detail carried by each kind of gate event. */
export interface GateEventDetails {
  door_held: { openMs: number };
  door_forced: Record<string, never>;
  camera_lost: { source: string; error?: string };
  camera_restored: { source: string; downMs: number };
  sync_done: { attendees: number; durationMs: number };
  sync_failed: { error: string };
  relay_fault: { error: string };
  /** Oldest outbox messages discarded because the outbox was full while the broker was unreachable. */
  outbox_dropped: { count: number; firstAuditSeq: number | null; lastAuditSeq: number | null; since: string; until: string };
  /** A remote `open` command; its audit record keeps the hash chain seen by the server unbroken. */
  remote_open: { requestId: string | null; audit: AuditRef };
  /** A part of the gate (camera, relay, store, broker, event, api, fleet, vision) started failing, or works again. */
  health_fault: { part: string; detail: string };
  health_ok: { part: string; detail: string };
  /** Two gates granted the same attendee within the anti-passback window, each before hearing of the other (docs/fleet.md). Both entries stand; `kept` is the attendee's entry by the site's rule. */
  fleet_conflict: { userId: string; kept: { gateId: string; enteredAt: string; seq: number }; conflict: { gateId: string; enteredAt: string; seq: number } };
  /** POST /identity results (not matches) beyond api.unmatchedRecordsPerMinute, counted over one minute instead of recorded one by one. */
  identity_api_summary: { since: string; until: string; count: number; byReason: Record<string, number>; audit: AuditRef };
}
export type GateEventType = keyof GateEventDetails;
export const GATE_EVENT_TYPES = [
  'door_held',
  'door_forced',
  'camera_lost',
  'camera_restored',
  'sync_done',
  'sync_failed',
  'relay_fault',
  'outbox_dropped',
  'remote_open',
  'health_fault',
  'health_ok',
  'identity_api_summary',
  'fleet_conflict',
] as const satisfies readonly GateEventType[];

/** `events`: one message per operational event. */
export type GateEvent = {
  [T in GateEventType]: {
    messageId: string;
    type: T;
    gateId: string;
    siteId: string;
    eventId: string;
    timestamp: string;
    detail: GateEventDetails[T];
  };
}[GateEventType];

/** Remote commands: parameters in, result out. */
export interface Commands {
  /** Pulse the relay as if a match had been granted. */
  open: { params: { pulseMs?: number; reason?: string }; result: { opened: boolean } };
  /** Pull the attendee list from the central server now. */
  sync: { params: Record<string, never>; result: { attendees: number } };
  /** Re-read the config file and apply what can be applied live. */
  reload: { params: Record<string, never>; result: { changed: string[] } };
}
export type CommandName = keyof Commands;
export const COMMAND_NAMES = ['open', 'sync', 'reload'] as const satisfies readonly CommandName[];
/** Commands that change the physical world and therefore write an audit record. */
export const AUDITED_COMMANDS: ReadonlySet<string> = new Set<CommandName>(['open']);

/** `cmd/<name>`: a request. `id` is echoed in the response; `params` may be omitted. */
export interface CommandRequest<N extends CommandName = CommandName> {
  id: string;
  params?: Commands[N]['params'];
}

/** `cmd/<name>/response`: exactly one per request received, malformed or not. */
export type CommandResponse<N extends CommandName = CommandName> =
  | { id: string | null; ok: true; result: Commands[N]['result'] }
  | { id: string | null; ok: false; error: string };

/** The typed map from relative topic to payload. */
export type TopicPayloads = {
  status: StatusPayload;
  sessions: SessionMessage;
  events: GateEvent;
} & { [N in CommandName as `cmd/${N}`]: CommandRequest<N> } & {
  [N in CommandName as `cmd/${N}/response`]: CommandResponse<N>;
};
export type Topic = keyof TopicPayloads;

/** Topics whose messages go through the durable outbox. */
export type OutboxTopic = 'sessions' | 'events';

export function topicFor(base: string, topic: Topic | `cmd/${string}` | `cmd/${string}/response`): string {
  return `${base}/${topic}`;
}

/** The command name in `<base>/cmd/<name>`, or null for any other topic. */
export function commandNameOf(base: string, fullTopic: string): string | null {
  const prefix = `${base}/cmd/`;
  if (!fullTopic.startsWith(prefix)) return null;
  const name = fullTopic.slice(prefix.length);
  return name.length > 0 && !name.includes('/') ? name : null;
}
