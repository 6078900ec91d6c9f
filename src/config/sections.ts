// Config sections whose keys mirror a component's own options object: the schema
// node is built from the component's defaults (types and defaults can't drift) and a
// description for every key (a test checks none is missing).
import type { SchemaNode } from './schema.js';

type Leaf = string | number | boolean | null | string[];

export function sectionFromDefaults(
  description: string,
  defaults: Record<string, Leaf>,
  describe: Record<string, string | { description: string; enum?: Leaf[]; minimum?: number; maximum?: number; urlSchemes?: string[]; type?: string | string[]; examples?: Leaf[] }>,
): SchemaNode {
  const properties: Record<string, SchemaNode> = {};
  for (const [key, def] of Object.entries(defaults)) {
    const d = describe[key];
    if (d === undefined) throw new Error(`config schema: no description for ${key}`);
    const info = typeof d === 'string' ? { description: d } : d;
    const type =
      info.type ??
      (def === null
        ? ['string', 'null']
        : Array.isArray(def)
          ? 'array'
          : typeof def === 'number'
            ? Number.isInteger(def) && !/ratio|score/i.test(key)
              ? 'integer'
              : 'number'
            : typeof def);
    properties[key] = {
      type,
      description: info.description,
      default: def,
      examples: info.examples ?? [def],
      ...(Array.isArray(def) ? { items: { type: 'string' } } : {}),
      ...(info.enum ? { enum: info.enum } : {}),
      ...(info.minimum !== undefined ? { minimum: info.minimum } : typeof def === 'number' ? { minimum: 0 } : {}),
      ...(info.maximum !== undefined ? { maximum: info.maximum } : {}),
      ...(info.urlSchemes ? { urlSchemes: info.urlSchemes } : {}),
    };
  }
  return { type: 'object', description, properties, additionalProperties: false, default: {} };
}
