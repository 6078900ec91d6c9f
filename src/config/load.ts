// Load, migrate, override from the environment, and validate the config. Every
// problem is reported at once as `path: value: what is wrong, how to fix`.
import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { CONFIG_VERSION, configSchema, type SchemaNode } from './schema.js';
import type { Config } from './types.js';
import { gatePolicyProblems } from '../gate/policy.js';
import { livenessProblems } from '../gate/liveness.js';
import { validateApiConfig } from '../api/api-config.js';
import { identificationProblems } from '../match/identification-config.js';
import { fleetProblems } from '../fleet/options.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly problems: string[],
    readonly file: string | null,
  ) {
    super(`${file ? `config ${file}` : 'config'} has ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
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
    throw new ConfigError([`not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`], file);
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

export function applyEnv(c: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith(ENV_PREFIX) || v === undefined) continue;
    setPath(c, k.slice(ENV_PREFIX.length).split('__'), parseEnvValue(v));
  }
  return c;
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

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validate = ajv.compile(configSchema);

function nodeAt(path: string[]): SchemaNode | undefined {
  let n: SchemaNode | undefined = configSchema;
  for (const p of path) n = n?.properties?.[p];
  return n;
}

function describeError(e: ErrorObject, root: unknown): string {
  const parts = e.instancePath.split('/').filter(Boolean);
  let value: unknown = root;
  for (const p of parts) value = (value as Record<string, unknown> | undefined)?.[p];
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    const known = Object.keys(nodeAt(parts)?.properties ?? {});
    return `${[...parts, extra].join('.')}: unknown key; remove it or use one of: ${known.join(', ')}`;
  }
  const path = parts.join('.') || '(top level)';
  const node = nodeAt(parts);
  const hint = node?.examples?.length ? ` (example: ${JSON.stringify(node.examples[0])})` : '';
  const what = e.keyword === 'enum' ? `must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}` : (e.message ?? 'is invalid');
  return `${path}: ${JSON.stringify(value)}: ${what}; ${node?.description ? `this key is: ${node.description}` : 'fix the value'}${hint}`;
}

export function validateConfig(raw: Record<string, unknown>): { config?: Config; problems: string[] } {
  const c = structuredClone(raw);
  if (!validate(c)) return { problems: (validate.errors ?? []).map((e) => describeError(e, c)) };
  // Rules across keys, which the schema cannot say; each component states its own.
  const config = c as unknown as Config;
  const problems = [...gatePolicyProblems(config.gate), ...livenessProblems(config.liveness), ...validateApiConfig(config.api).map((p) => `api.${p.replace(/^api\./, '')}`)];
  problems.push(...identificationProblems(config.identification));
  problems.push(...fleetProblems(config.fleet, { brokerUrl: config.mqtt.brokerUrl, gateId: config.gateId }));
  return problems.length ? { problems } : { config, problems: [] };
}

/** Load the config: file (or defaults), migrations, GATE_AGENT__* env, flag overrides, validation. */
export function loadConfig(opts: LoadOptions): Config {
  const raw = opts.file ? readConfigFile(opts.file) : {};
  const c = applyEnv(migrate(raw), opts.env ?? process.env);
  for (const [k, v] of Object.entries(opts.overrides ?? {})) if (v !== undefined) setPath(c, k.split('.'), v);
  const { config, problems } = validateConfig(c);
  if (!config) throw new ConfigError(problems, opts.file);
  if (opts.file) config.dataDir = resolve(config.dataDir);
  return config;
}
