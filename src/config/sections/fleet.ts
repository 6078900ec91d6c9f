// The `fleet` section: one venue, many lanes, one entry per attendee across the site
// (docs/fleet.md). The gates share the site's MQTT broker (mqtt.brokerUrl).
import { bool, defaultsOf, int, oneOf, section, str, type Static } from '../schema-kit.js';

export const fleetSchema = section('A venue with many lanes: grants shared with the site\'s other gates over the broker (mqtt.brokerUrl), anti-passback and cooldown applied across the site, Home Assistant discovery (docs/fleet.md).', {
  enabled: bool({ description: 'Publish this gate\'s entries to the site and apply the other gates\' entries here. Needs mqtt.brokerUrl; every gate of the site needs the same siteId (and siteTopic).', default: false, examples: [true] }),
  siteTopic: str({
    description: 'Topic root the site\'s gates share; empty means securegate/<siteId>. Gates with a custom mqtt.baseTopic must keep their status at <siteTopic>/<gateId>/status to be listed by `gate-agent fleet status`.',
    default: '',
    pattern: '^[^#+]*$',
    examples: ['securegate/arena-berlin'],
  }),
  offline: oneOf(['local', 'deny-repeat'], {
    description: 'While the gate cannot hear its peers (broker unreachable, or a peer silent for peerSilenceMs): local = its own anti-passback and cooldown with the entries it knows; deny-repeat = also deny every attendee with any known entry in the event, whatever antiPassbackMinutes says (first entries still open the door).',
    default: 'local',
    examples: ['deny-repeat'],
  }),
  heartbeatMs: int({ description: 'How often the gate tells its peers it is alive, in ms; keep it well below peerSilenceMs.', default: 2500, minimum: 100, maximum: 600_000, examples: [2500] }),
  peerSilenceMs: int({
    description: 'A peer whose retained status says online and that has not been heard for this many ms is silent (a broken bridge, a network split): the offline rule applies and the status says so.',
    default: 10_000,
    minimum: 200,
    maximum: 3_600_000,
    examples: [10000],
  }),
  statusWaitMs: int({ description: '`gate-agent fleet status` waits this many ms for the broker\'s retained gate statuses.', default: 1500, minimum: 100, maximum: 60_000, examples: [1500] }),
  homeAssistant: section('Home Assistant MQTT discovery: the gate announces its status, last decision, relay and an "open door" button (docs/fleet.md).', {
    enabled: bool({ description: 'Publish Home Assistant discovery configs (retained) for this gate. Off by default.', default: false, examples: [true] }),
    discoveryPrefix: str({ description: 'Home Assistant\'s MQTT discovery prefix.', default: 'homeassistant', minLength: 1, pattern: '^[^#+]+$', examples: ['homeassistant'] }),
  }),
});

export type FleetOptions = Static<typeof fleetSchema>;
/** While the gate cannot hear its peers: `local` keeps its own rules with what it knows; `deny-repeat` also denies anyone with any known entry in the event. */
export type OfflineRule = FleetOptions['offline'];

export const fleetDefaults: Readonly<FleetOptions> = defaultsOf(fleetSchema);

/** Rules across keys and sections the schema cannot say, as `path: value: what is wrong, how to fix`. */
export function fleetProblems(f: FleetOptions, ctx: { brokerUrl: string | null; gateId: string }): string[] {
  const problems: string[] = [];
  if (f.enabled && ctx.brokerUrl === null) problems.push('fleet.enabled: true: needs the site\'s broker; set mqtt.brokerUrl or turn fleet off');
  if (f.homeAssistant.enabled && ctx.brokerUrl === null) problems.push('fleet.homeAssistant.enabled: true: needs a broker; set mqtt.brokerUrl or turn discovery off');
  if (f.enabled && f.heartbeatMs * 2 > f.peerSilenceMs) problems.push(`fleet.heartbeatMs: ${f.heartbeatMs}: more than half of peerSilenceMs (${f.peerSilenceMs}), so one late heartbeat would make a peer silent; lower it or raise peerSilenceMs`);
  if (f.enabled && ctx.gateId === 'fleet') problems.push('gateId: "fleet": reserved for the site\'s fleet topics when fleet is enabled; rename the gate');
  return problems;
}
