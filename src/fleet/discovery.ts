// Home Assistant MQTT discovery payloads for one gate (pure), the way zigbee2mqtt and
// Frigate announce their devices: one retained config per entity under
// <prefix>/<component>/<nodeId>/<objectId>/config, all pointing at the gate's existing
// topics. The entities read the retained status (state, health, detail); the button
// sends the existing remote `open` command, so it is audited like any other.

export interface DiscoveryInput {
  prefix: string;
  siteId: string;
  gateId: string;
  /** The gate's base topic (mqtt.baseTopic or securegate/<siteId>/<gateId>). */
  baseTopic: string;
  version: string;
}

export interface DiscoveryMessage {
  topic: string;
  /** JSON config; published retained. */
  payload: Record<string, unknown>;
}

const safeId = (s: string): string => s.replace(/[^A-Za-z0-9_-]/g, '_');

export function nodeIdOf(siteId: string, gateId: string): string {
  return safeId(`securegate_${siteId}_${gateId}`);
}

/**
 * A unique request id per press: Home Assistant renders the template when the button is
 * pressed, and the gate runs a request id once ever (docs/mqtt.md, Commands).
 */
export const OPEN_COMMAND_TEMPLATE = '{"id": "ha-{{ now().timestamp() }}", "params": {"reason": "home assistant"}}';

export function discoveryMessages(i: DiscoveryInput): DiscoveryMessage[] {
  const node = nodeIdOf(i.siteId, i.gateId);
  const status = `${i.baseTopic}/status`;
  const device = {
    identifiers: [node],
    name: `Securegate gate ${i.gateId}`,
    manufacturer: 'Securegate',
    model: 'gate agent',
    sw_version: i.version,
    suggested_area: i.siteId,
  };
  const common = (objectId: string, name: string): Record<string, unknown> => ({
    name,
    unique_id: `${node}_${objectId}`,
    object_id: `${node}_${objectId}`,
    device,
    origin: { name: 'securegate gate-agent', sw_version: i.version },
    availability_topic: status,
    availability_template: '{{ value_json.state }}',
    payload_available: 'online',
    payload_not_available: 'offline',
  });
  const entity = (component: string, objectId: string, payload: Record<string, unknown>): DiscoveryMessage => ({
    topic: `${i.prefix}/${component}/${node}/${objectId}/config`,
    payload,
  });
  return [
    entity('binary_sensor', 'status', {
      ...common('status', 'Status'),
      // A problem sensor: on while the gate reports a fault (health.ok false).
      device_class: 'problem',
      state_topic: status,
      value_template: "{{ 'OFF' if (value_json.health is not defined or value_json.health.ok) else 'ON' }}",
      json_attributes_topic: status,
      json_attributes_template: '{{ {"summary": (value_json.health.summary if value_json.health is defined else value_json.state), "event": value_json.eventId} | tojson }}',
    }),
    entity('sensor', 'last_decision', {
      ...common('last_decision', 'Last decision'),
      icon: 'mdi:account-check',
      state_topic: status,
      value_template: "{{ value_json.detail.lastDecision.reason if (value_json.detail is defined and value_json.detail.lastDecision) else 'none' }}",
      json_attributes_topic: status,
      json_attributes_template: '{{ (value_json.detail.lastDecision if (value_json.detail is defined and value_json.detail.lastDecision) else {}) | tojson }}',
    }),
    entity('binary_sensor', 'relay', {
      ...common('relay', 'Door relay'),
      // lock: on means unlocked (the strike is energised).
      device_class: 'lock',
      state_topic: status,
      value_template: "{{ 'ON' if (value_json.detail is defined and value_json.detail.relay and value_json.detail.relay.active) else 'OFF' }}",
    }),
    entity('button', 'open', {
      ...common('open', 'Open door'),
      icon: 'mdi:door-open',
      command_topic: `${i.baseTopic}/cmd/open`,
      command_template: OPEN_COMMAND_TEMPLATE,
      payload_press: 'PRESS',
      qos: 1,
      retain: false,
    }),
  ];
}
