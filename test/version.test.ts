// package.json's version, read in one place (src/version.ts), is what every surface reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VERSION } from '../src/version.js';
import { ROOT } from './paths.js';
import { startApi } from './api/helpers.js';
import { runCli } from './cli/run.js';

const declared = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

void test('VERSION is package.json\'s version', () => {
  assert.match(declared, /^\d+\.\d+\.\d+/);
  assert.equal(VERSION, declared);
});

void test('gate-agent --version and /openapi.json report it', async (t) => {
  const cli = await runCli(['--version']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(cli.stdout.trim(), declared);
  const api = await startApi(t);
  assert.equal(((await api.req('/openapi.json')).json as { info: { version: string } }).info.version, declared);
});
