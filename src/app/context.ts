// What every command works on, resolved once from the command line and the config
// file: the one options shape of `run`, `serve`, `doctor` and the other commands.
import type { Config } from '../config/types.js';

export interface AgentContext {
  config: Config;
  /** The config file read, null for the embedded defaults. */
  configFile: string | null;
  modelsDir: string;
  dataDir: string;
}

