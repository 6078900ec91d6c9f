// docs/config-reference.md is generated from the schema: this fails when it is stale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configReference } from '../../src/config/reference.js';
import { configSchema, type SchemaNode } from '../../src/config/schema.js';
import { ROOT } from '../paths.js';

test('docs/config-reference.md is what `npm run docs:config` writes from the schema today', async () => {
  const committed = await readFile(join(ROOT, 'docs', 'config-reference.md'), 'utf8');
  assert.ok(committed === configReference(), 'docs/config-reference.md is stale: run `npm run docs:config` and commit the result');
});

test('the reference has a row for every key of the schema, with its bounds', () => {
  const doc = configReference();
  const leaves: string[] = [];
  const walk = (n: SchemaNode, path: string[]): void => {
    if (!n.properties) leaves.push(path.join('.'));
    else for (const [k, c] of Object.entries(n.properties)) walk(c, [...path, k]);
  };
  walk(configSchema, []);
  assert.ok(leaves.length > 100);
  for (const key of leaves) assert.match(doc, new RegExp(`^\\| \`${key.replace(/\./g, '\\.')}\` \\|`, 'm'), key);
  assert.match(doc, /^\| `relay\.pulseMs` \| integer \| `3000` \| 50\.\.30000 \|/m);
  assert.match(doc, /^\| `mqtt\.brokerUrl` \| string or null \| `null` \| URL: mqtt:\/\/, mqtts:\/\/, ws:\/\/, wss:\/\/ \|/m);
});
