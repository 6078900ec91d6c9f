// Which config file a command uses: --config / GATE_AGENT_CONFIG, else the installed gate's
// /etc/gate-agent/config.yaml when it exists (GATE_AGENT_DEFAULT_CONFIG names another
// default, for tests and unusual installs), else none: the built-in defaults.
import { existsSync } from 'node:fs';

export const INSTALLED_CONFIG = '/etc/gate-agent/config.yaml';

/** The default config file path, whether or not it exists. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.GATE_AGENT_DEFAULT_CONFIG || INSTALLED_CONFIG;
}

export interface ConfigChoice {
  file: string | null;
  /** Why this file: the words for the line every command prints. */
  why: 'flag' | 'default' | 'none';
}

export function chooseConfigFile(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): ConfigChoice {
  if (flag) return { file: flag, why: 'flag' };
  const def = defaultConfigPath(env);
  return existsSync(def) ? { file: def, why: 'default' } : { file: null, why: 'none' };
}

/** The one line on stderr that says which config a command runs with. */
export function configLine(choice: ConfigChoice, dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (choice.why === 'none') return `gate-agent: no config file (${defaultConfigPath(env)} does not exist): built-in defaults, data in ${dataDir}; \`gate-agent config init\` writes one`;
  return `gate-agent: config ${choice.file}${choice.why === 'default' ? ' (the default; --config FILE for another)' : ''}, data in ${dataDir}`;
}
