// The `mqtt` section: the publisher's settings (publish/options.ts builds on them); every
// number carries its unit in its name.
import { defaultsOf, int, section, str, strOrNull, type Static } from '../schema-kit.js';

export const mqttSchema = section('Publishing results to the central server over MQTT. brokerUrl null: results stay queued in the local outbox.', {
  brokerUrl: strOrNull({
    description: 'mqtt://, mqtts://, ws:// or wss:// URL of the broker; null keeps results in the local outbox until one is set.',
    default: null,
    urlSchemes: ['mqtt', 'mqtts', 'ws', 'wss'],
    examples: ['mqtts://broker.securegate.example:8883'],
  }),
  clientId: str({ description: 'MQTT client id; empty means gate-<siteId>-<gateId>.', default: '', examples: [''] }),
  username: strOrNull({ description: 'Broker user name, or null.', default: null, examples: [null] }),
  password: strOrNull({ description: 'Broker password, or null; never logged.', default: null, examples: [null] }),
  caFile: strOrNull({ description: 'PEM file of the CA that signed the broker\'s certificate (mqtts/wss).', default: null, examples: [null] }),
  certFile: strOrNull({ description: 'PEM client certificate, for brokers that require one.', default: null, examples: [null] }),
  keyFile: strOrNull({ description: 'PEM private key of the client certificate.', default: null, examples: [null] }),
  baseTopic: str({ description: 'Base topic; empty means securegate/<siteId>/<gateId>.', default: '', examples: [''] }),
  reconnectMinMs: int({ description: 'First reconnect delay in ms; doubles per failure.', default: 1000, minimum: 0, examples: [1000] }),
  reconnectMaxMs: int({ description: 'Longest reconnect delay in ms.', default: 60000, minimum: 0, examples: [60000] }),
  keepaliveSec: int({ description: 'MQTT keepalive in seconds; the broker publishes the last will after 1.5x this without traffic.', default: 30, minimum: 0, examples: [30] }),
  connectTimeoutMs: int({ description: 'Give up a connection attempt after this many ms.', default: 10000, minimum: 0, examples: [10000] }),
  inflightWindow: int({ description: 'QoS 1 messages sent and not yet acknowledged at most.', default: 64, minimum: 1, examples: [64] }),
  outboxMaxMessages: int({ description: 'Most results held while the broker is unreachable; beyond it the oldest are dropped, counted and reported.', default: 100000, minimum: 1, examples: [100000] }),
  statusRefreshMs: int({
    description: 'The retained status (with its detail: camera, relay, last decision, fleet) is republished when any of it changes; a change of the outbox depth alone, at most once per this many ms.',
    default: 10000,
    minimum: 100,
    examples: [10000],
  }),
});

export type MqttConfig = Static<typeof mqttSchema>;

export const mqttDefaults: Readonly<MqttConfig> = defaultsOf(mqttSchema);
