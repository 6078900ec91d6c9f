// Building blocks of the config schema. Each is a TypeBox node: a plain JSON Schema object
// (ajv validates it as it is) that also carries its TypeScript type, so `Config` and every
// section's options type are derived from the schema (Static<…>) and cannot drift from it.
// Every key is made with a description, a default and an example (the types require them).
import { Type, type Static, type TObject, type TProperties, type TSchema, type TUnsafe } from '@sinclair/typebox';

export type { Static };

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Any node of the schema as JSON Schema, for code that walks it (the reference, `config set`). */
export interface SchemaNode {
  type?: string | string[];
  description?: string;
  default?: Json;
  examples?: Json[];
  enum?: Json[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  pattern?: string;
  /** A URL key: the schemes it accepts (checked by url-rule.ts, with a fix in the message). */
  urlSchemes?: string[];
  items?: SchemaNode;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  required?: string[];
}

/** What every key of the config carries; the reference and `config validate` show them. */
interface Key<T> {
  description: string;
  default: T;
  examples: T[];
}

interface Bounds {
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

interface StringRules {
  minLength?: number;
  pattern?: string;
  /** A URL key: the schemes it accepts (checked by url-rule.ts, with a fix in the message). */
  urlSchemes?: string[];
}

export const int = (o: Key<number> & Bounds) => Type.Integer(o);
export const num = (o: Key<number> & Bounds) => Type.Number(o);
export const bool = (o: Key<boolean>) => Type.Boolean(o);
export const str = (o: Key<string> & StringRules) => Type.String(o);

/** A string or null (null: the feature is off, or "pick for me"; the description says which). */
export const strOrNull = (o: Key<string | null> & StringRules): TUnsafe<string | null> => Type.Unsafe<string | null>({ type: ['string', 'null'], ...o });
export const intOrNull = (o: Key<number | null> & Bounds): TUnsafe<number | null> => Type.Unsafe<number | null>({ type: ['integer', 'null'], ...o });
export const numOrNull = (o: Key<number | null> & Bounds): TUnsafe<number | null> => Type.Unsafe<number | null>({ type: ['number', 'null'], ...o });

/** One of a few strings, as `enum` (ajv's message lists them) rather than a union of consts. */
export const oneOf = <const V extends readonly string[]>(values: V, o: Key<V[number]>): TUnsafe<V[number]> =>
  Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...o });

/** One of a few whole numbers. */
export const intOneOf = <const V extends readonly number[]>(values: V, o: Key<V[number]>): TUnsafe<V[number]> =>
  Type.Unsafe<V[number]>({ type: 'integer', enum: [...values], ...o });

/** A list of strings, each checked by `item` (e.g. not empty, or one of a few ids). */
export const list = <I extends TSchema>(item: I, o: Key<Static<I>[]>) => Type.Array(item, o);

/** A string list item: no description or default of its own (its list has them). */
export const item = {
  str: (o: StringRules = {}) => Type.String(o),
  oneOf: <const V extends readonly string[]>(values: V): TUnsafe<V[number]> => Type.Unsafe<V[number]>({ type: 'string', enum: [...values] }),
};

/** A section of the config: a closed object whose keys all have defaults, so it defaults to {}. */
export const section = <P extends TProperties>(description: string, properties: P): TObject<P> =>
  Type.Object(properties, { description, additionalProperties: false, default: {} });

/** The values a node's defaults make, as its type (a section: each key's default, nested sections filled in). */
export function defaultsOf<T extends TObject>(schema: T): Static<T> {
  const fill = (n: TSchema): unknown =>
    n.type === 'object' && n.properties ? Object.fromEntries(Object.entries(n.properties as TProperties).map(([k, c]) => [k, fill(c)])) : structuredClone(n.default as unknown);
  return deepFreeze(fill(schema)) as Static<T>;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const c of Object.values(v)) deepFreeze(c);
    Object.freeze(v);
  }
  return v;
}
