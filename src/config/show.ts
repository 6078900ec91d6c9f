// The effective config as `gate-agent config show` prints it: every key's value, secrets
// masked, and where the value came from (the file, a GATE_AGENT__ variable, a flag, the default).
import { ENV_PREFIX, migrate, readConfigFile } from './load.js';
import type { Config } from './types.js';

export interface ShownValue {
  path: string;
  value: unknown;
  source: string;
}

export const MASK = '********';

/** Keys holding a secret: a password, an API key, a token. A *File key names a file and is shown. */
export function isSecretKey(key: string): boolean {
  return !/File$/.test(key) && /(password|apikey|secret|token|^key)$/i.test(key);
}

/** A URL's credentials (mqtt://user:pass@host) masked. */
function maskUrlCredentials(v: string): string {
  return v.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/@\s]*)@/i, (_m, scheme: string, cred: string) => `${scheme}${cred.includes(':') ? `${cred.slice(0, cred.indexOf(':'))}:${MASK}` : cred}@`);
}

function has(o: unknown, path: string[]): boolean {
  let x = o;
  for (const p of path) {
    if (typeof x !== 'object' || x === null || !(p in x)) return false;
    x = (x as Record<string, unknown>)[p];
  }
  return true;
}

const isPrefix = (prefix: string[], path: string[]): boolean => prefix.length <= path.length && prefix.every((p, i) => p === path[i]);

export interface ShowOptions {
  file: string | null;
  env: NodeJS.ProcessEnv;
  /** Flag values applied on top, each with the words that name its origin. */
  overrides: { path: string; value: unknown; source: string }[];
}

/** Every leaf of `config` (arrays are leaves) with its masked value and its origin. */
export function showConfig(config: Config, o: ShowOptions): ShownValue[] {
  const raw = o.file ? migrate(readConfigFile(o.file)) : {};
  const envKeys = Object.keys(o.env).filter((k) => k.startsWith(ENV_PREFIX) && o.env[k] !== undefined).map((k) => ({ name: k, path: k.slice(ENV_PREFIX.length).split('__') }));
  const out: ShownValue[] = [];
  const walk = (v: unknown, path: string[]): void => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0) {
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
      return;
    }
    const key = path.at(-1) ?? '';
    const value = v !== null && v !== '' && isSecretKey(key) ? MASK : typeof v === 'string' ? maskUrlCredentials(v) : v;
    const flag = o.overrides.find((f) => f.value !== undefined && isPrefix(f.path.split('.'), path));
    const env = envKeys.filter((e) => isPrefix(e.path, path)).at(-1);
    const source = flag ? flag.source : env ? `env ${env.name}` : has(raw, path) ? 'file' : 'default';
    out.push({ path: path.join('.'), value, source });
  };
  walk(config, []);
  return out;
}
