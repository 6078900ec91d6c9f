// docs/config-reference.md, generated from the schema (`npm run docs:config`); a test fails
// when the committed file differs from what the schema says.
import { CONFIG_VERSION, configSchema, type SchemaNode } from './schema.js';

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (v: unknown): string => (v === undefined ? '' : `\`${cell(JSON.stringify(v))}\``);

function typeOf(n: SchemaNode): string {
  const t = Array.isArray(n.type) ? n.type.join(' or ') : (n.type ?? '');
  const items = n.type === 'array' && n.items?.type ? ` of ${String(n.items.type)}` : '';
  return `${t}${items}`;
}

function bounds(n: SchemaNode): string {
  const out: string[] = [];
  if (n.enum) out.push(`one of ${n.enum.map((e) => code(e)).join(', ')}`);
  if (n.minimum !== undefined && n.maximum !== undefined) out.push(`${n.minimum}..${n.maximum}`);
  else if (n.minimum !== undefined) out.push(`>= ${n.minimum}`);
  else if (n.maximum !== undefined) out.push(`<= ${n.maximum}`);
  if (n.exclusiveMinimum !== undefined) out.push(`> ${n.exclusiveMinimum}`);
  if (n.minLength !== undefined && n.minLength > 0) out.push(`not empty`);
  if (n.pattern) out.push(`matches \`${cell(n.pattern)}\``);
  if (n.urlSchemes) out.push(`URL: ${n.urlSchemes.map((s) => `${s}://`).join(', ')}`);
  return out.join('; ');
}

/** The whole reference as Markdown: one table per section, every key with type, default, bounds, example. */
export function configReference(schema: SchemaNode = configSchema): string {
  const lines: string[] = [
    '# Config reference',
    '',
    '<!-- Generated from src/config/schema.ts and src/config/sections/ by `npm run docs:config`; do not edit by hand. -->',
    '',
    `Every key of the config file (format version ${CONFIG_VERSION}), with its type, default, the values it`,
    'accepts and an example. `gate-agent config validate` checks a file against these rules,',
    '`gate-agent config set KEY VALUE` changes one key, `gate-agent config show --effective` prints',
    'the values in use and where each came from. Any key can also be set by an environment variable',
    '`GATE_AGENT__<section>__<key>` (for example `GATE_AGENT__match__threshold=0.4`).',
    '',
  ];
  const top: [string, SchemaNode][] = [];
  const sections: [string, SchemaNode][] = [];
  for (const [k, n] of Object.entries(schema.properties ?? {})) (n.properties ? sections : top).push([k, n]);
  const table = (rows: [string, SchemaNode][], prefix: string): void => {
    lines.push('| Key | Type | Default | Accepts | Example | Description |', '| --- | --- | --- | --- | --- | --- |');
    for (const [k, n] of rows) lines.push(`| \`${prefix}${k}\` | ${typeOf(n)} | ${code(n.default)} | ${bounds(n)} | ${code(n.examples?.[0])} | ${cell(n.description ?? '')} |`);
    lines.push('');
  };
  lines.push('## Top level', '');
  table(top, '');
  const walk = (name: string, n: SchemaNode): void => {
    lines.push(`## ${name}`, '', cell(n.description ?? ''), '');
    const leaves = Object.entries(n.properties ?? {}).filter(([, c]) => !c.properties);
    if (leaves.length) table(leaves, `${name}.`);
    for (const [k, c] of Object.entries(n.properties ?? {})) if (c.properties) walk(`${name}.${k}`, c);
  };
  for (const [k, n] of sections) walk(k, n);
  return lines.join('\n');
}
