// Publisher settings: the config's `mqtt` section (src/config/sections/mqtt.ts, where every
// key is described) plus the topic, client id and backoff rules built on it.
import { readFileSync } from 'node:fs';
import { mqttDefaults, type MqttConfig } from '../config/sections/mqtt.js';
import { errorText } from '../errors.js';

/**
 * The publisher's settings: the config's `mqtt` section with a broker to connect to (the
 * section's brokerUrl may be null: results then stay in the outbox and no publisher runs).
 */
export type PublishOptions = Omit<MqttConfig, 'brokerUrl'> & { brokerUrl: string };

export const defaults: PublishOptions = { ...mqttDefaults, brokerUrl: 'mqtt://localhost:1883' };

/** Who this gate is; goes into every payload. */
export interface GateIdentity {
  gateId: string;
  siteId: string;
  eventId: string;
  modelId: string;
  version: string;
}

export function baseTopicOf(opts: Pick<PublishOptions, 'baseTopic'>, id: Pick<GateIdentity, 'siteId' | 'gateId'>): string {
  return opts.baseTopic !== '' ? opts.baseTopic.replace(/\/+$/, '') : `securegate/${id.siteId}/${id.gateId}`;
}

export function clientIdOf(opts: Pick<PublishOptions, 'clientId'>, id: Pick<GateIdentity, 'siteId' | 'gateId'>): string {
  return opts.clientId !== '' ? opts.clientId : `gate-${id.siteId}-${id.gateId}`;
}

/**
 * Delay before reconnect attempt number `attempt` (1-based): exponential from
 * min to max. `jitter` in [0,1) spreads a fleet of gates that lost the same
 * broker so they do not all come back in the same millisecond.
 */
export function backoffMs(attempt: number, minMs: number, maxMs: number, jitter = 0): number {
  const exp = minMs * 2 ** Math.max(0, Math.min(attempt - 1, 30));
  const capped = Math.min(maxMs, exp);
  return Math.round(capped * (1 - 0.25 * jitter));
}

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Read the TLS files once at start; a missing file is a config error, reported with its path. */
export function readTlsFiles(opts: Pick<PublishOptions, 'caFile' | 'certFile' | 'keyFile'>): TlsMaterial {
  const read = (what: string, p: string | null): Buffer | undefined => {
    if (p === null || p === '') return undefined;
    try {
      return readFileSync(p);
    } catch (e) {
      throw new Error(`mqtt.${what}: ${p}: cannot read (${errorText(e)}); fix the path or remove the key`, { cause: e });
    }
  };
  return { ca: read('caFile', opts.caFile), cert: read('certFile', opts.certFile), key: read('keyFile', opts.keyFile) };
}
