// Validation of a whole config: the schema (types, bounds, URL schemes, unknown keys with
// "did you mean") and the rules across keys, every problem at once. A value that breaks
// the schema is replaced by its default for the cross-key rules, so they run on every
// config instead of only once the schema errors are fixed.
import { Ajv, type ErrorObject } from 'ajv';
import { configSchema, type SchemaNode } from './schema.js';
import type { Config } from './types.js';
import { didYouMean } from './suggest.js';
import { urlSchemeProblem } from './url-rule.js';
import { gatePolicyProblems } from '../gate/policy.js';
import { livenessProblems } from '../gate/liveness.js';
import { validateApiConfig } from '../api/api-config.js';
import { identificationProblems } from '../match/identification-config.js';
import { relayProblems } from '../relay/limits.js';
import { fleetProblems } from '../fleet/options.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
ajv.addKeyword({
  keyword: 'urlSchemes',
  schemaType: 'array',
  errors: true,
  validate: function check(schemes: string[], data: unknown): boolean {
    if (typeof data !== 'string') return true;
    const problem = urlSchemeProblem(data, schemes);
    if (problem) (check as unknown as { errors: Partial<ErrorObject>[] }).errors = [{ keyword: 'urlSchemes', message: problem, params: { schemes } }];
    return problem === null;
  },
});
const validate = ajv.compile(configSchema);

/** The schema node at a dotted path; undefined past the schema's keys. */
export function schemaNodeAt(path: readonly string[]): SchemaNode | undefined {
  let n: SchemaNode | undefined = configSchema;
  for (const p of path) n = n?.properties?.[p];
  return n;
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let v = root;
  for (const p of path) v = (v as Record<string, unknown> | undefined)?.[p];
  return v;
}

const where = (parts: string[]): string => (parts.length ? `\`${parts.join('.')}\`` : 'the top level');

/** An unknown key: the nearest valid key at that level, or where the valid ones are listed. */
export function unknownKeyProblem(parts: string[], key: string): string {
  const known = Object.keys(schemaNodeAt(parts)?.properties ?? {});
  const near = didYouMean(key, known);
  const fix = near ? `did you mean "${near}"?` : `${where(parts)} has no such key; docs/config-reference.md lists the valid ones`;
  return `${[...parts, key].join('.')}: unknown key; ${fix}`;
}

function describeError(e: ErrorObject, root: unknown): string {
  const parts = e.instancePath.split('/').filter(Boolean);
  if (e.keyword === 'additionalProperties') return unknownKeyProblem(parts, (e.params as { additionalProperty: string }).additionalProperty);
  const value = valueAt(root, parts);
  const path = parts.join('.') || '(top level)';
  const node = schemaNodeAt(parts);
  if (e.keyword === 'urlSchemes') return `${path}: ${JSON.stringify(value)}: ${e.message ?? 'not an accepted URL'}`;
  const hint = node?.examples?.length ? ` (example: ${JSON.stringify(node.examples[0])})` : '';
  const what = e.keyword === 'enum' ? `must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}` : (e.message ?? 'is invalid');
  return `${path}: ${JSON.stringify(value)}: ${what}; ${node?.description ? `this key is: ${node.description}` : 'fix the value'}${hint}`;
}

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

/** Rules across keys, which the schema cannot say; each component states its own. */
function crossKeyProblems(config: Config): string[] {
  return [
    ...relayProblems(config.relay),
    ...gatePolicyProblems(config.gate),
    ...livenessProblems(config.liveness),
    ...validateApiConfig(config.api).map((p) => `api.${p.replace(/^api\./, '')}`),
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
    const problems = crossKeyProblems(c as unknown as Config);
    return problems.length ? { problems } : { config: c as unknown as Config, problems: [] };
  }
  const errors = [...(validate.errors ?? [])];
  const problems = errors.map((e) => describeError(e, c));
  const fixed = repaired(c, errors);
  if (validate(fixed)) {
    // A cross-key problem on a key already reported is the same mistake seen twice.
    const reported = new Set(problems.map(problemPath));
    problems.push(...crossKeyProblems(fixed as unknown as Config).filter((p) => !reported.has(problemPath(p))));
  }
  return { problems: [...new Set(problems)] };
}
