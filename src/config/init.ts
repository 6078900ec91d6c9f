// `gate-agent config init`: a first config from a few answers (platform, camera, relay,
// broker, central server, event), validated like any other and written with each key's
// description from the schema as a comment.
import { resolve } from 'node:path';
import { Document, isMap, isPair, isScalar, type Node } from 'yaml';
import { ConfigError, migrate } from './load.js';
import { CONFIG_VERSION } from './schema.js';
import { schemaNodeAt, validateConfig } from './validate.js';
import type { Config } from './types.js';

export const PLATFORMS = ['raspberry-pi', 'jetson', 'generic'] as const;
export type Platform = (typeof PLATFORMS)[number];

export interface InitAnswers {
  platform: Platform;
  /** /dev/videoN (v4l2), rtsp://… (IP camera), or a video file / image folder (replay). */
  cameraPath?: string;
  relayDriver?: string;
  relayChip?: string;
  relayLine?: number;
  relayActiveLow?: boolean;
  broker?: string;
  centralUrl?: string;
  event?: string;
  gateId?: string;
  siteId?: string;
  dataDir?: string;
  modelsDir?: string;
}

/** What each platform starts from; the answers override it. */
export const PLATFORM_DEFAULTS: Record<Platform, { relayDriver: string; relayChip: string; relayLine: number; cameraPath: string }> = {
  // gpiod: its pulse ends even if the agent is killed; gpiochip0 is the 40-pin header on a
  // Pi 4 and on a Pi 5 with a current kernel (docs/relay.md).
  'raspberry-pi': { relayDriver: 'gpiod', relayChip: 'gpiochip0', relayLine: 17, cameraPath: '/dev/video0' },
  jetson: { relayDriver: 'gpiod', relayChip: 'gpiochip0', relayLine: 17, cameraPath: '/dev/video0' },
  generic: { relayDriver: 'auto', relayChip: 'gpiochip0', relayLine: 17, cameraPath: '/dev/video0' },
};

export const DEFAULT_DATA_DIR = '/var/lib/gate-agent';

/** The camera keys for a path: a device, a stream URL or a file/folder to replay. */
export function cameraFor(path: string): Record<string, unknown> {
  if (/^rtsps?:\/\//i.test(path)) return { kind: 'rtsp', url: path };
  if (path.startsWith('/dev/')) return { kind: 'v4l2', device: path };
  return { kind: 'replay', path: resolve(path) };
}

/** The config the answers describe: only the keys they set, plus the version. */
export function initialConfig(a: InitAnswers): Record<string, unknown> {
  const d = PLATFORM_DEFAULTS[a.platform];
  const dataDir = a.dataDir ?? DEFAULT_DATA_DIR;
  const c: Record<string, unknown> = { version: CONFIG_VERSION };
  if (a.gateId) c.gateId = a.gateId;
  if (a.siteId) c.siteId = a.siteId;
  c.dataDir = dataDir;
  c.event = { id: a.event || null };
  c.camera = cameraFor(a.cameraPath || d.cameraPath);
  c.relay = { board: a.platform, driver: a.relayDriver ?? d.relayDriver, chip: a.relayChip ?? d.relayChip, pin: a.relayLine ?? d.relayLine, activeLow: a.relayActiveLow ?? false };
  c.mqtt = { brokerUrl: a.broker || null };
  c.sync = { baseUrl: a.centralUrl || null };
  c.models = { dir: a.modelsDir ?? `${dataDir.replace(/\/+$/, '')}/models` };
  return c;
}

/** The problems of a config made by init, as validation states them ([] when fine). */
export function initProblems(raw: Record<string, unknown>): string[] {
  return validateConfig(migrate(raw)).problems;
}

function describe(node: Node | null, path: string[]): void {
  if (!isMap(node)) return;
  for (const item of node.items) {
    if (!isPair(item) || !isScalar(item.key)) continue;
    const key = String(item.key.value);
    const schema = schemaNodeAt([...path, key]);
    if (schema?.description) item.key.commentBefore = ` ${schema.description}`;
    describe(item.value as Node | null, [...path, key]);
  }
}

/** YAML text of `raw`, each key with its schema description above it. */
export function renderConfig(raw: Record<string, unknown>, header: string): string {
  const doc = new Document(raw);
  describe(doc.contents, []);
  doc.commentBefore = ` ${header}\n Every key: docs/config-reference.md. Check it: gate-agent config validate`;
  return doc.toString({ lineWidth: 0 });
}

/** Builds, validates and renders the config; throws ConfigError listing every problem. */
export function buildInitConfig(a: InitAnswers, file: string): { raw: Record<string, unknown>; text: string; config: Config } {
  const raw = initialConfig(a);
  const { config, problems } = validateConfig(migrate(raw));
  if (!config) throw new ConfigError(problems, file);
  return { raw, text: renderConfig(raw, `Securegate gate agent config, written by \`gate-agent config init\` for ${a.platform}.`), config };
}
