// `gate-agent config set KEY VALUE`: one key changed in the config file, the whole config
// validated before anything is written, the file replaced atomically. YAML files keep their
// comments and layout (yaml's Document API); JSON files are rewritten as JSON.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse, parseDocument } from 'yaml';
import { writeFileAtomic } from './atomic-write.js';
import { ConfigError, migrate } from './load.js';
import { schemaNodeAt, unknownKeyProblem, validateConfig } from './validate.js';

/** VALUE as typed on the command line: a YAML/JSON scalar, list or map; text for a string key. */
export function parseValue(path: string[], text: string): unknown {
  let v: unknown;
  try {
    v = parse(text);
  } catch {
    v = text;
  }
  const type = schemaNodeAt(path)?.type;
  const types = Array.isArray(type) ? type : type ? [type] : [];
  // gateId 123 or chip 0 is meant as the text, where the key takes only text (and null).
  if ((typeof v === 'number' || typeof v === 'boolean') && types.includes('string') && !types.some((t) => t === 'number' || t === 'integer' || t === 'boolean')) return text;
  return v;
}

export interface SetResult {
  key: string;
  /** The value before: the file's, or the default when the file did not set the key. */
  previous: unknown;
  previousFrom: 'file' | 'default';
  value: unknown;
  changed: boolean;
}

/** The path of KEY, or a ConfigError with "did you mean" at the first unknown part. */
function keyPath(key: string, file: string): string[] {
  const path = key.split('.').filter(Boolean);
  if (path.length === 0) throw new ConfigError([`"${key}" is not a key; give a dotted key like match.threshold`], file);
  for (let i = 0; i < path.length; i++) {
    if (!schemaNodeAt(path.slice(0, i + 1))) throw new ConfigError([unknownKeyProblem(path.slice(0, i), path[i]!)], file);
  }
  return path;
}

export function setConfigValue(file: string, key: string, valueText: string): SetResult {
  const path = keyPath(key, file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)}); \`gate-agent config init --out ${file}\` writes a first one`], file);
  }
  const json = extname(file) === '.json';
  const doc = parseDocument(json ? text : text || '{}');
  if (doc.errors.length) throw new ConfigError([`not valid ${json ? 'JSON' : 'YAML'}: ${doc.errors[0]!.message.split('\n')[0]}; fix it by hand first`], file);
  const value = parseValue(path, valueText);
  const before = (doc.toJS() ?? {}) as Record<string, unknown>;
  let previous: unknown = before;
  for (const p of path) previous = (previous as Record<string, unknown> | undefined)?.[p];
  doc.setIn(path, value);
  const after = (doc.toJS() ?? {}) as Record<string, unknown>;
  // The whole file is checked, not just this key: a rule across keys may be what breaks.
  const { problems } = validateConfig(migrate(after));
  if (problems.length) throw new ConfigError(problems.map((p) => `${p} (after setting ${key})`), file);
  const previousFrom = previous === undefined ? 'default' : 'file';
  if (previous === undefined) previous = schemaNodeAt(path)?.default ?? null;
  const changed = previousFrom === 'default' || JSON.stringify(previous) !== JSON.stringify(value);
  if (changed) writeFileAtomic(file, json ? JSON.stringify(after, null, 2) + '\n' : doc.toString({ lineWidth: 0 }), { overwrite: true });
  return { key, previous, previousFrom, value, changed };
}
