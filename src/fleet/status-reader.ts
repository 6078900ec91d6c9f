// `gate-agent fleet status`: every gate of the site the broker knows, read from the
// retained status topics <root>/<gateId>/status. Reading is I/O (readFleetStatus);
// turning the payloads into rows is pure (fleetRows).
import { connect, type IClientOptions } from 'mqtt';
import { describeMqttError, readTlsFiles, redactUrl, type PublishOptions, type StatusPayload } from '../publish/index.js';
import { fleetTopics, gateOfStatusTopic } from './topics.js';

export interface FleetRow {
  gateId: string;
  online: boolean;
  /** `stopped`, `connection lost` while offline. */
  reason: string | null;
  /** When the state was entered (for offline: when the lost connection had been made). */
  since: string;
  eventId: string | null;
  healthOk: boolean | null;
  faults: string[];
  camera: string | null;
  relay: string | null;
  outboxDepth: number | null;
  lastDecisionAt: string | null;
  lastDecision: string | null;
  /** Site-wide entries: hearing its peers, or the rule it applies; null when fleet is off there. */
  fleet: string | null;
  version: string;
}

/** One row per gate, sorted by gate id; payloads that are not a gate status are reported, not dropped silently. */
export function fleetRows(statuses: ReadonlyMap<string, unknown>): { rows: FleetRow[]; problems: string[] } {
  const rows: FleetRow[] = [];
  const problems: string[] = [];
  for (const [gateId, raw] of [...statuses].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const s = raw as Partial<StatusPayload> | null;
    if (s === null || typeof s !== 'object' || (s.state !== 'online' && s.state !== 'offline')) {
      problems.push(`${gateId}: its retained status is not a gate status ({"state": "online"|"offline", …}); ignored`);
      continue;
    }
    const d = s.state === 'online' ? s.detail : undefined;
    rows.push({
      gateId,
      online: s.state === 'online',
      reason: s.reason ?? null,
      since: s.timestamp ?? '',
      eventId: s.eventId ? s.eventId : null,
      healthOk: s.health ? s.health.ok : null,
      faults: (s.health?.faults ?? []).map((f) => `${f.part}: ${f.detail}`),
      camera: d?.camera ? `${d.camera.state}` : null,
      relay: d?.relay ? `${d.relay.driver}${d.relay.active ? ' (open)' : ''}` : null,
      outboxDepth: d?.outboxDepth ?? null,
      lastDecisionAt: d?.lastDecision?.at ?? null,
      lastDecision: d?.lastDecision ? `${d.lastDecision.kind} ${d.lastDecision.reason}` : null,
      fleet: d?.fleet ? (d.fleet.hearing ? 'hearing peers' : `NOT hearing peers (${d.fleet.offlineRule})`) : null,
      version: s.version ?? '',
    });
  }
  return { rows, problems };
}

/** The retained statuses under `root`, collected for waitMs after subscribing. Throws with a technician's message when the broker cannot be reached. */
export async function readFleetStatus(mqtt: PublishOptions, root: string, waitMs: number): Promise<Map<string, unknown>> {
  const options: IClientOptions = {
    clientId: `gate-agent-fleet-status-${process.pid}-${Math.floor(Math.random() * 1e6)}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: mqtt.connectTimeoutMs,
    rejectUnauthorized: true,
    ...(mqtt.username !== null ? { username: mqtt.username } : {}),
    ...(mqtt.password !== null ? { password: mqtt.password } : {}),
    ...readTlsFiles(mqtt),
  };
  let client;
  try {
    client = await connectAsync(mqtt.brokerUrl, options);
  } catch (err) {
    throw new Error(`cannot read the site's gates from ${redactUrl(mqtt.brokerUrl)}: ${describeMqttError(err as Error)}`, { cause: err });
  }
  const statuses = new Map<string, unknown>();
  try {
    client.on('message', (topic, payload) => {
      const gateId = gateOfStatusTopic(root, topic);
      if (gateId === null) return;
      if (payload.length === 0) {
        statuses.delete(gateId);
        return;
      }
      try {
        statuses.set(gateId, JSON.parse(payload.toString()) as unknown);
      } catch {
        statuses.set(gateId, null);
      }
    });
    await client.subscribeAsync(fleetTopics.statuses(root), { qos: 1 });
    await new Promise((r) => setTimeout(r, waitMs));
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
  return statuses;
}

function connectAsync(url: string, options: IClientOptions): Promise<ReturnType<typeof connect>> {
  return new Promise((resolve, reject) => {
    const c = connect(url, options);
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
    c.once('close', () => reject(new Error('connection closed before it was accepted')));
  });
}
