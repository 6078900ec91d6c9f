// A config reload (SIGHUP, the MQTT `reload` command): match, quality and gate settings
// apply at once, in place; the rest is reported as needing a restart.
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/types.js';
import type { AgentContext } from './context.js';

/** Keys whose change the gate applies without a restart. */
const LIVE_KEYS: readonly (keyof Config)[] = ['match', 'quality', 'gate'];

/** Re-reads ctx.configFile into ctx.config; returns what changed ([] without a file). */
export function reloadConfig(ctx: Pick<AgentContext, 'config' | 'configFile' | 'dataDir'>): string[] {
  if (!ctx.configFile) return [];
  const next = loadConfig({ file: ctx.configFile, overrides: { dataDir: ctx.dataDir } });
  const c = ctx.config;
  const changed: string[] = [];
  for (const key of Object.keys(next) as (keyof Config)[]) {
    if (JSON.stringify(next[key]) === JSON.stringify(c[key])) continue;
    if (LIVE_KEYS.includes(key)) {
      Object.assign(c[key], next[key]);
      changed.push(key);
    } else if (key !== 'dataDir') {
      changed.push(`${key} (takes effect after a restart)`);
    }
  }
  return changed;
}
