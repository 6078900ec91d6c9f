// The `fleet` config section: one venue, many lanes, one entry per attendee across the
// site (docs/fleet.md). The gates share the site's MQTT broker (mqtt.brokerUrl).
import type { SchemaNode } from '../config/schema.js';

/** While the gate cannot hear its peers: `local` keeps its own rules with what it knows; `deny-repeat` also denies anyone with any known entry in the event. */
export type OfflineRule = 'local' | 'deny-repeat';

export interface FleetOptions {
  /** Share entries with the other gates of the site over the broker. */
  enabled: boolean;
  /** Topic root shared by the site's gates; empty means securegate/<siteId>. */
  siteTopic: string;
  offline: OfflineRule;
  /** How often the gate says it is alive to its peers, in ms. */
  heartbeatMs: number;
  /** A peer whose status says online and that was not heard for this long is silent: the offline rule applies. */
  peerSilenceMs: number;
  /** How long `gate-agent fleet status` waits for the broker's retained status messages, in ms. */
  statusWaitMs: number;
  homeAssistant: { enabled: boolean; discoveryPrefix: string };
}

export const defaults: Readonly<FleetOptions> = Object.freeze({
  enabled: false,
  siteTopic: '',
  offline: 'local',
  heartbeatMs: 2500,
  peerSilenceMs: 10_000,
  statusWaitMs: 1500,
  homeAssistant: Object.freeze({ enabled: false, discoveryPrefix: 'homeassistant' }),
});

export const fleetSchema: SchemaNode = {
  type: 'object',
  description: 'A venue with many lanes: grants shared with the site\'s other gates over the broker (mqtt.brokerUrl), anti-passback and cooldown applied across the site, Home Assistant discovery (docs/fleet.md).',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', description: 'Publish this gate\'s entries to the site and apply the other gates\' entries here. Needs mqtt.brokerUrl; every gate of the site needs the same siteId (and siteTopic).', default: defaults.enabled, examples: [true] },
    siteTopic: { type: 'string', description: 'Topic root the site\'s gates share; empty means securegate/<siteId>. Gates with a custom mqtt.baseTopic must keep their status at <siteTopic>/<gateId>/status to be listed by `gate-agent fleet status`.', default: defaults.siteTopic, pattern: '^[^#+]*$', examples: ['securegate/arena-berlin'] },
    offline: { type: 'string', enum: ['local', 'deny-repeat'], description: 'While the gate cannot hear its peers (broker unreachable, or a peer silent for peerSilenceMs): local = its own anti-passback and cooldown with the entries it knows; deny-repeat = also deny every attendee with any known entry in the event, whatever antiPassbackMinutes says (first entries still open the door).', default: defaults.offline, examples: ['deny-repeat'] },
    heartbeatMs: { type: 'integer', description: 'How often the gate tells its peers it is alive, in ms; keep it well below peerSilenceMs.', default: defaults.heartbeatMs, minimum: 100, maximum: 600_000, examples: [2500] },
    peerSilenceMs: { type: 'integer', description: 'A peer whose retained status says online and that has not been heard for this many ms is silent (a broken bridge, a network split): the offline rule applies and the status says so.', default: defaults.peerSilenceMs, minimum: 200, maximum: 3_600_000, examples: [10000] },
    statusWaitMs: { type: 'integer', description: '`gate-agent fleet status` waits this many ms for the broker\'s retained gate statuses.', default: defaults.statusWaitMs, minimum: 100, maximum: 60_000, examples: [1500] },
    homeAssistant: {
      type: 'object',
      description: 'Home Assistant MQTT discovery: the gate announces its status, last decision, relay and an "open door" button (docs/fleet.md).',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', description: 'Publish Home Assistant discovery configs (retained) for this gate. Off by default.', default: defaults.homeAssistant.enabled, examples: [true] },
        discoveryPrefix: { type: 'string', description: 'Home Assistant\'s MQTT discovery prefix.', default: defaults.homeAssistant.discoveryPrefix, minLength: 1, pattern: '^[^#+]+$', examples: ['homeassistant'] },
      },
    },
  },
};

/** Rules across keys and sections the schema cannot say, as `path: value: what is wrong, how to fix`. */
export function fleetProblems(f: FleetOptions, ctx: { brokerUrl: string | null; gateId: string }): string[] {
  const problems: string[] = [];
  if (f.enabled && ctx.brokerUrl === null) problems.push('fleet.enabled: true: needs the site\'s broker; set mqtt.brokerUrl or turn fleet off');
  if (f.homeAssistant.enabled && ctx.brokerUrl === null) problems.push('fleet.homeAssistant.enabled: true: needs a broker; set mqtt.brokerUrl or turn discovery off');
  if (f.enabled && f.heartbeatMs * 2 > f.peerSilenceMs) problems.push(`fleet.heartbeatMs: ${f.heartbeatMs}: more than half of peerSilenceMs (${f.peerSilenceMs}), so one late heartbeat would make a peer silent; lower it or raise peerSilenceMs`);
  if (f.enabled && ctx.gateId === 'fleet') problems.push('gateId: "fleet": reserved for the site\'s fleet topics when fleet is enabled; rename the gate');
  return problems;
}
