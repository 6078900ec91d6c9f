// What every command works on, resolved once from the command line and the config
// file: the one options shape of `run`, `serve`, `doctor` and the other commands.
import { readFileSync } from 'node:fs';
import type { Config } from '../config/types.js';

export interface AgentContext {
  config: Config;
  /** The config file read, null for the embedded defaults. */
  configFile: string | null;
  modelsDir: string;
  dataDir: string;
}

/** package.json's version, read once for the logs, MQTT, Home Assistant and `--version`. */
export const AGENT_VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
