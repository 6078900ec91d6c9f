// The layering rule of docs/architecture.md, checked on the source: an import never
// points to a higher layer, nor sideways into a peer of the same layer (except among
// the foundation's folders), nothing in src/ or scripts/ imports from test/, and the
// folders' import graph has no circle. A wrong-way import fails CI here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { ROOT } from './paths.js';

/** The layers, bottom first: the same table as docs/architecture.md. */
export const LAYERS: readonly (readonly string[])[] = [
  ['config', 'log', 'clock', 'errors', 'version', 'http', 'models', 'service'],
  ['store', 'vision', 'capture', 'relay'],
  ['match'],
  ['gate', 'publish', 'sync', 'enroll'],
  ['fleet', 'api'],
  ['app'],
  ['doctor', 'eval'],
  ['cli'],
  ['scripts'],
];
/** The bottom layer's folders may use each other (config reads the log's levels, say). */
const FOUNDATION = 0;

const rankOf = new Map(LAYERS.flatMap((names, rank) => names.map((n) => [n, rank] as const)));

/** The unit a file belongs to: src/<folder> (or src/<file> for log.ts, clock.ts, errors.ts, version.ts), scripts, test. */
function unitOf(file: string): string {
  const parts = relative(ROOT, file).split(sep);
  if (parts[0] === 'src') return parts[1]!.replace(/\.(ts|js)$/, '');
  return parts[0]!;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts') || name.endsWith('.js')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

interface Arrow {
  from: string;
  to: string;
  fromUnit: string;
  toUnit: string;
}

function arrows(): Arrow[] {
  const out: Arrow[] = [];
  for (const file of [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'scripts'))]) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      const target = resolve(dirname(file), spec);
      const fromUnit = unitOf(file);
      const toUnit = unitOf(target);
      if (fromUnit !== toUnit) out.push({ from: relative(ROOT, file), to: relative(ROOT, target), fromUnit, toUnit });
    }
  }
  return out;
}

test('every folder of src/ has a layer', () => {
  const units = new Set(sources(join(ROOT, 'src')).map(unitOf));
  const unplaced = [...units].filter((u) => !rankOf.has(u));
  assert.deepEqual(unplaced, [], 'add each new folder to LAYERS here and to docs/architecture.md');
});

test('no import points up, sideways into a peer, or into test/', () => {
  const wrong: string[] = [];
  for (const a of arrows()) {
    if (a.toUnit === 'test') {
      wrong.push(`${a.from} -> ${a.to}: src/ and scripts/ never import test helpers; move the helper to src/ or scripts/`);
      continue;
    }
    const from = rankOf.get(a.fromUnit);
    const to = rankOf.get(a.toUnit);
    if (from === undefined || to === undefined) continue; // reported by the test above
    if (to > from) wrong.push(`${a.from} -> ${a.to}: ${a.fromUnit} (layer ${from}) imports ${a.toUnit} (layer ${to}), a higher layer`);
    else if (to === from && from !== FOUNDATION) wrong.push(`${a.from} -> ${a.to}: ${a.fromUnit} and ${a.toUnit} are peers (layer ${from}); share through a lower layer or let the composition root connect them`);
  }
  assert.deepEqual(wrong, []);
});

test('the folders import each other without a circle', () => {
  const edges = new Map<string, Set<string>>();
  for (const a of arrows()) {
    if (!edges.has(a.fromUnit)) edges.set(a.fromUnit, new Set());
    edges.get(a.fromUnit)!.add(a.toUnit);
  }
  const state = new Map<string, 'open' | 'done'>();
  const circles: string[] = [];
  const visit = (u: string, path: string[]): void => {
    if (state.get(u) === 'done') return;
    if (state.get(u) === 'open') {
      circles.push([...path.slice(path.indexOf(u)), u].join(' -> '));
      return;
    }
    state.set(u, 'open');
    for (const v of edges.get(u) ?? []) visit(v, [...path, u]);
    state.set(u, 'done');
  };
  for (const u of edges.keys()) visit(u, []);
  assert.deepEqual(circles, []);
});

test('the checker sees a wrong-way import (it can fail)', () => {
  // The store importing the publisher: exactly what the rule forbids.
  const sample = "import { Outbox } from '../publish/outbox.js';\nexport { x } from './local.js';";
  const found = [...sample.matchAll(IMPORT)].map((m) => m[1] ?? m[2]);
  assert.deepEqual(found, ['../publish/outbox.js', './local.js']);
  const from = unitOf(join(ROOT, 'src', 'store', 'x.ts'));
  const to = unitOf(resolve(join(ROOT, 'src', 'store'), '../publish/outbox.js'));
  assert.ok(rankOf.get(to)! > rankOf.get(from)!, `${from} -> ${to}`);
});
