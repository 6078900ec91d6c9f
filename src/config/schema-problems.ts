// Schema errors as problem lines, `path: value: what is wrong, how to fix`: for the whole
// config (validate.ts) and for one section's options built outside the config loader (a
// gate policy or a liveness check made by a tool or a test), in the same words either way.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { SchemaNode } from './schema-kit.js';
import { didYouMean } from './suggest.js';
import { urlSchemeProblem } from './url-rule.js';

/**
 * ajv as the config uses it: every error at once, `urlSchemes` checked with a fix in the
 * message, NaN and Infinity refused as numbers (YAML can write .nan and .inf), and with
 * `useDefaults` every missing key filled in from its default.
 */
export function configAjv(opts: { useDefaults: boolean }): Ajv {
  const ajv = new Ajv({ allErrors: true, useDefaults: opts.useDefaults, strict: false, strictNumbers: true });
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
  return ajv;
}

/** The schema node at a path below `root`; undefined past the schema's keys. */
export function nodeAt(root: SchemaNode, path: readonly string[]): SchemaNode | undefined {
  let n: SchemaNode | undefined = root;
  for (const p of path) n = n?.properties?.[p];
  return n;
}

export function valueAt(root: unknown, path: readonly string[]): unknown {
  let v = root;
  for (const p of path) v = (v as Record<string, unknown> | undefined)?.[p];
  return v;
}

const where = (parts: string[]): string => (parts.length ? `\`${parts.join('.')}\`` : 'the top level');

/** An unknown key: the nearest valid key at that level, or where the valid ones are listed. */
export function unknownKeyProblem(root: SchemaNode, parts: string[], key: string, prefix: readonly string[] = []): string {
  const known = Object.keys(nodeAt(root, parts)?.properties ?? {});
  const near = didYouMean(key, known);
  const fix = near ? `did you mean "${near}"?` : `${where([...prefix, ...parts])} has no such key; docs/config-reference.md lists the valid ones`;
  return `${[...prefix, ...parts, key].join('.')}: unknown key; ${fix}`;
}

/** A value as a problem line shows it: JSON, except what JSON cannot say (NaN, a missing key). */
const shown = (v: unknown): string => (v === undefined ? '(missing)' : typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v));

/** One ajv error of `value` against `root` as a problem line; `prefix` is where `root` sits in the config. */
export function describeError(e: ErrorObject, value: unknown, root: SchemaNode, prefix: readonly string[] = []): string {
  const parts = e.instancePath.split('/').filter(Boolean);
  if (e.keyword === 'additionalProperties') return unknownKeyProblem(root, parts, (e.params as { additionalProperty: string }).additionalProperty, prefix);
  if (e.keyword === 'required') parts.push((e.params as { missingProperty: string }).missingProperty);
  const v = valueAt(value, parts);
  const path = [...prefix, ...parts].join('.') || '(top level)';
  const node = nodeAt(root, parts);
  if (e.keyword === 'urlSchemes') return `${path}: ${shown(v)}: ${e.message ?? 'not an accepted URL'}`;
  const hint = node?.examples?.length ? ` (example: ${JSON.stringify(node.examples[0])})` : '';
  const what =
    e.keyword === 'enum' ? `must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}` : e.keyword === 'required' ? 'must be set' : (e.message ?? 'is invalid');
  return `${path}: ${shown(v)}: ${what}; ${node?.description ? `this key is: ${node.description}` : 'fix the value'}${hint}`;
}

const strict = configAjv({ useDefaults: false });
const compiled = new WeakMap<SchemaNode, ValidateFunction>();

/**
 * Every schema problem of `value`, one section's options, against that section's `schema`,
 * with paths under `path` (e.g. `gate`). Keys the schema does not know (runtime state passed
 * along with the options) are not its business and are left out; a missing key is a problem,
 * as no default is filled in.
 */
export function schemaProblems(schema: SchemaNode, value: unknown, path: string): string[] {
  let validate = compiled.get(schema);
  if (!validate) compiled.set(schema, (validate = strict.compile(schema)));
  const keys = Object.keys(schema.properties ?? {});
  const own = typeof value === 'object' && value !== null && keys.length ? Object.fromEntries(keys.filter((k) => k in value).map((k) => [k, (value as Record<string, unknown>)[k]])) : value;
  if (validate(own)) return [];
  return (validate.errors ?? []).map((e) => describeError(e, own, schema, path.split('.').filter(Boolean)));
}
