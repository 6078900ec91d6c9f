// Load, migrate, override from the environment, and validate the config. Every
// problem is reported at once as `path: value: what is wrong, how to fix`.
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CONFIG_VERSION } from './schema.js';
import type { Config } from './types.js';
import { problemPath, validateConfig } from './validate.js';
import { errorText } from '../errors.js';

export { validateConfig };

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly problems: string[],
    readonly file: string | null,
    /** Every problem came from a GATE_AGENT__ variable: the file itself is fine. */
    envOnly = false,
  ) {
    const what = envOnly ? `the GATE_AGENT__ environment variables${file ? ` (on top of config ${file}, which is fine)` : ''}` : file ? `config ${file}` : 'config';
    super(`${what} ha${envOnly ? 've' : 's'} ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
  }
}

export interface LoadOptions {
  /** Config file path; null for the embedded defaults. */
  file: string | null;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, applied last (e.g. {dataDir: …}). */
  overrides?: Record<string, unknown>;
}

/** Prefix for per-key overrides: GATE_AGENT__match__threshold=0.4 sets match.threshold. */
export const ENV_PREFIX = 'GATE_AGENT__';

export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)}); check --config / GATE_AGENT_CONFIG`], file);
  }
  let data: unknown;
  try {
    data = extname(file) === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError([`not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${errorText(err).split('\n')[0]}`], file);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new ConfigError(['the top level must be a mapping of keys to values'], file);
  return data as Record<string, unknown>;
}

/** Old config versions, migrated step by step to the current one. */
const migrations: Record<number, (c: Record<string, unknown>) => Record<string, unknown>> = {
  // Version 0 is a file written before the version key existed; its keys are unchanged.
  0: (c) => ({ ...c, version: 1 }),
};

export function migrate(raw: Record<string, unknown>): Record<string, unknown> {
  let c = { ...raw };
  let v = typeof c.version === 'number' ? c.version : 0;
  while (v < CONFIG_VERSION && migrations[v]) {
    c = migrations[v]!(c);
    v = c.version as number;
  }
  return c;
}

function parseEnvValue(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

export interface EnvOverride {
  name: string;
  path: string[];
  value: unknown;
}

/** The GATE_AGENT__a__b variables of `env`, each with the key path it sets. */
export function envOverrides(env: NodeJS.ProcessEnv): EnvOverride[] {
  return Object.entries(env)
    .filter(([k, v]) => k.startsWith(ENV_PREFIX) && v !== undefined)
    .map(([k, v]) => ({ name: k, path: k.slice(ENV_PREFIX.length).split('__'), value: parseEnvValue(v!) }));
}

export function applyEnv(c: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  for (const o of envOverrides(env)) setPath(c, o.path, o.value);
  return c;
}

const overlaps = (a: string, b: string): boolean => a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);

/** The variable a problem comes from, when its key (or a key around it) was set by one. */
function blamedVariable(problem: string, overrides: EnvOverride[]): EnvOverride | undefined {
  const path = problemPath(problem);
  return overrides.filter((o) => path && overlaps(o.path.join('.'), path)).at(-1);
}

export function setPath(c: Record<string, unknown>, path: string[], value: unknown): void {
  let o = c;
  path.forEach((p, i) => {
    if (i === path.length - 1) o[p] = value;
    else {
      if (typeof o[p] !== 'object' || o[p] === null) o[p] = {};
      o = o[p] as Record<string, unknown>;
    }
  });
}

/** Load the config: file (or defaults), migrations, GATE_AGENT__* env, flag overrides, validation. */
export function loadConfig(opts: LoadOptions): Config {
  const raw = opts.file ? readConfigFile(opts.file) : {};
  const env = envOverrides(opts.env ?? process.env);
  const c = migrate(raw);
  for (const o of env) setPath(c, o.path, o.value);
  for (const [k, v] of Object.entries(opts.overrides ?? {})) if (v !== undefined) setPath(c, k.split('.'), v);
  const { config, problems } = validateConfig(c);
  if (!config) {
    // A bad override is the variable's fault, not the file's: say which one to fix.
    const blamed = problems.map((p) => ({ p, v: blamedVariable(p, env) }));
    const lines = blamed.map(({ p, v }) => (v ? `${p} [set by the environment variable ${v.name}, not the file: fix or unset it]` : p));
    throw new ConfigError(lines, opts.file, blamed.every(({ v }) => v));
  }
  if (opts.file) config.dataDir = resolve(config.dataDir);
  return config;
}
