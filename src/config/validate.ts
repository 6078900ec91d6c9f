// Validation of a whole config: the schema (types, bounds, URL schemes, unknown keys with
// "did you mean") and the rules across keys, every problem at once. A value that breaks
// the schema is replaced by its default for the cross-key rules, so they run on every
// config instead of only once the schema errors are fixed.
import type { ErrorObject } from 'ajv';
import { configSchema, type SchemaNode } from './schema.js';
import type { Config } from './types.js';
import { configAjv, describeError as describeAt, nodeAt, unknownKeyProblem as unknownKeyAt, valueAt } from './schema-problems.js';
import { validateApiConfig } from './sections/api.js';
import { fleetProblems } from './sections/fleet.js';
import { gatePolicyProblems } from './sections/gate.js';
import { identificationProblems } from './sections/identification.js';
import { livenessProblems } from './sections/liveness.js';
import { relayProblems } from './sections/relay.js';

const validate = configAjv({ useDefaults: true }).compile<Config>(configSchema);

/** The schema node at a dotted path; undefined past the schema's keys. */
export const schemaNodeAt = (path: readonly string[]): SchemaNode | undefined => nodeAt(configSchema, path);

/** An unknown key: the nearest valid key at that level, or where the valid ones are listed. */
export const unknownKeyProblem = (parts: string[], key: string): string => unknownKeyAt(configSchema, parts, key);

const describeError = (e: ErrorObject, root: unknown): string => describeAt(e, root, configSchema);

/** `c` with every value the schema refused replaced by its default (unknown keys removed). */
function repaired(c: Record<string, unknown>, errors: ErrorObject[]): Record<string, unknown> {
  const copy = structuredClone(c);
  for (const e of errors) {
    const parts = e.instancePath.split('/').filter(Boolean);
    if (e.keyword === 'additionalProperties') {
      const parent = valueAt(copy, parts) as Record<string, unknown>;
      delete parent[(e.params as { additionalProperty: string }).additionalProperty];
      continue;
    }
    // The nearest enclosing key that has a default (an array item has none: its array does).
    while (parts.length && schemaNodeAt(parts)?.default === undefined) parts.pop();
    const parent = valueAt(copy, parts.slice(0, -1));
    const last = parts.at(-1);
    if (last === undefined || typeof parent !== 'object' || parent === null) continue;
    (parent as Record<string, unknown>)[last] = structuredClone(schemaNodeAt(parts)!.default);
  }
  return copy;
}

/** Rules across keys, which the schema cannot say; each section states its own. */
function crossKeyProblems(config: Config): string[] {
  return [
    ...relayProblems(config.relay),
    ...gatePolicyProblems(config.gate),
    ...livenessProblems(config.liveness),
    ...validateApiConfig(config.api),
    ...identificationProblems(config.identification),
    ...fleetProblems(config.fleet, { brokerUrl: config.mqtt.brokerUrl, gateId: config.gateId }),
    ...(config.vision.workerRestartMaxMs < config.vision.workerRestartMinMs
      ? [`vision.workerRestartMaxMs: ${config.vision.workerRestartMaxMs}: must be >= vision.workerRestartMinMs (${config.vision.workerRestartMinMs}); raise it or lower the other`]
      : []),
  ];
}

/** The dotted path a problem line starts with (`relay.pin: 99: …` -> relay.pin). */
export const problemPath = (problem: string): string => /^([A-Za-z0-9_.-]+):/.exec(problem)?.[1] ?? '';

/** Every problem of `raw` (schema and cross-key) at once; the config when there are none. */
export function validateConfig(raw: Record<string, unknown>): { config?: Config; problems: string[] } {
  const c = structuredClone(raw);
  if (validate(c)) {
    const problems = crossKeyProblems(c);
    return problems.length ? { problems } : { config: c, problems: [] };
  }
  const errors = [...(validate.errors ?? [])];
  const problems = errors.map((e) => describeError(e, c));
  const fixed = repaired(c, errors);
  if (validate(fixed)) {
    // A cross-key problem on a key already reported is the same mistake seen twice.
    const reported = new Set(problems.map(problemPath));
    problems.push(...crossKeyProblems(fixed).filter((p) => !reported.has(problemPath(p))));
  }
  return { problems: [...new Set(problems)] };
}
