// Log lines through the real CLI: readable on a terminal (GATE_AGENT_LOG_FORMAT=pretty), JSON otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run.js';

// A start that fails fast after its first log lines: the replay file does not exist.
const start = (dataDir: string, env: Record<string, string>) =>
  runCli(['run', '--once', '--camera-path', join(dataDir, 'missing.mp4'), '--data-dir', dataDir], { GATE_AGENT__relay__driver: '"sim"', GATE_AGENT_LOG_LEVEL: 'info', TZ: 'Etc/GMT-1', ...env });

test('GATE_AGENT_LOG_FORMAT=pretty: HH:MM:SS.mmm+01:00 LEVEL module: message key=value; json (the default off a terminal): JSON lines', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'log-format-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const pretty = await start(join(dir, 'a'), { GATE_AGENT_LOG_FORMAT: 'pretty' });
  assert.match(pretty.stderr, /^\d\d:\d\d:\d\d\.\d{3}\+01:00 INFO {2}daemon: gate-agent starting gateId=gate-1 siteId=site-1 .*version=\S+$/m);
  assert.match(pretty.stderr, /^\d\d:\d\d:\d\d\.\d{3}\+01:00 ERROR daemon: event fault: .* part=event detail="no current event: nobody is admitted"$/m);
  assert.doesNotMatch(pretty.stderr, /^\{/m);

  const json = await start(join(dir, 'b'), {});
  const lines = json.stderr.split('\n').filter((l) => l.startsWith('{'));
  assert.ok(lines.length > 2, json.stderr);
  assert.ok(lines.map((l) => JSON.parse(l) as { module?: string; msg?: string }).some((l) => l.module === 'daemon' && l.msg === 'gate-agent starting'));
});
