// Publisher settings. The config schema (someone else's folder) maps onto this
// type; every number carries its unit in its name.
import { readFileSync } from 'node:fs';
import { errorText } from '../errors.js';

export interface PublishOptions {
  /** mqtt://, mqtts://, ws:// or wss:// URL of the broker. */
  brokerUrl: string;
  /** MQTT client id; empty means `gate-<siteId>-<gateId>`. */
  clientId: string;
  username: string | null;
  password: string | null;
  /** PEM files for TLS (mqtts/wss). caFile pins the broker's CA; certFile+keyFile are the client certificate. */
  caFile: string | null;
  certFile: string | null;
  keyFile: string | null;
  /** Base topic; empty means `securegate/<siteId>/<gateId>`. */
  baseTopic: string;
  /** Delay before the first reconnect attempt; doubles per failure up to reconnectMaxMs. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** MQTT keepalive: the broker fires the last will after 1.5x this without traffic. */
  keepaliveSec: number;
  connectTimeoutMs: number;
  /** QoS 1 messages handed to the client and not yet acknowledged; bounds what a reconnect resends. */
  inflightWindow: number;
  /** Outbox bound; when full, the oldest messages are dropped first (counted and reported). */
  outboxMaxMessages: number;
  /** The retained status is republished when the gate's detail changes; a change of the outbox depth alone, at most this often. */
  statusRefreshMs: number;
}

export const defaults: PublishOptions = {
  brokerUrl: 'mqtt://localhost:1883',
  clientId: '',
  username: null,
  password: null,
  caFile: null,
  certFile: null,
  keyFile: null,
  baseTopic: '',
  reconnectMinMs: 1000,
  reconnectMaxMs: 60_000,
  keepaliveSec: 30,
  connectTimeoutMs: 10_000,
  inflightWindow: 64,
  outboxMaxMessages: 100_000,
  statusRefreshMs: 10_000,
};

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
