// `gate-agent sync` as a technician runs it: a real process against the
// loopback central server, a real data dir. Output never carries the API key,
// embeddings or KYC data.
import '../api/quiet-logs.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type RunResult } from '../cli/run.js';
import type { CentralServer } from './central-server.js';
import { tempDir, testServer } from './helpers.js';

type Run = RunResult;

/** The real `gate-agent sync`, as a technician runs it. */
const run = (args: string[], env: Record<string, string>): Promise<Run> => runCli(['sync', ...args], env);

function assertNoSecrets(r: Run, server: CentralServer): void {
  const all = r.stdout + r.stderr;
  assert.ok(!all.includes(server.apiKey), 'the API key is never printed');
  assert.ok(!all.includes('DL-u0001'), 'KYC data is never printed');
  assert.ok(!/"vector"|"embedding"/.test(all), 'embeddings are never printed');
}

void describe('gate-agent sync', () => {
  void it('syncs an event and prints a summary; a progress line per page on a non-terminal stderr', async (t) => {
    const server = await testServer(t, 12);
    const dataDir = await tempDir(t);
    const env = { GATE_AGENT_DATA_DIR: dataDir, GATE_AGENT_SYNC_API_KEY: server.apiKey };
    const r = await run(['--event', 'evt_test', '--url', server.baseUrl], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^evt_test: done: 1 page\(s\), 12 attendee\(s\) added or updated, 0 removed, 0 embedded from photos; 12 attendee\(s\) cached, 0 not yet usable with arcface_mbf_w600k_int8\n$/,
    );
    // sync.pageSize defaults to 200, so the 12 attendees come in one page.
    // The first line names the config in use (none here: built-in defaults).
    assert.equal(r.stderr.replace(/^gate-agent: no config file .*\n/, ''), 'sync evt_test: page 1 applied (12 item(s), 12 so far, last page)\n');
    assertNoSecrets(r, server);

    // A second run, JSON, without --event: every cached event, changes only.
    server.remove('u0003');
    const j = await run(['--url', server.baseUrl, '--json'], env);
    assert.equal(j.code, 0, j.stderr);
    const out = JSON.parse(j.stdout) as { modelId: string; events: { eventId: string; pages: number; deletions: number; attendees: number; error: string | null }[] };
    assert.equal(out.modelId, 'arcface_mbf_w600k_int8');
    assert.deepEqual(out.events.map((e) => [e.eventId, e.pages, e.deletions, e.attendees, e.error]), [['evt_test', 1, 1, 11, null]]);
    assertNoSecrets(j, server);
  });

  void it('a refused key exits 1 with the reason, without printing the key from --api-key-file', async (t) => {
    const server = await testServer(t, 3);
    const dataDir = await tempDir(t);
    const keyFile = join(dataDir, 'sync.key');
    await writeFile(keyFile, 'not-the-right-key-123\n');
    const r = await run(['--event', 'evt_test', '--url', server.baseUrl, '--api-key-file', keyFile], { GATE_AGENT_DATA_DIR: dataDir });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^evt_test: FAILED \(the cache keeps every page applied before the failure\)/);
    assert.match(r.stderr, /gate-agent: event evt_test: the central server http:\/\/127\.0\.0\.1:\d+ refused the API key \(HTTP 401: invalid API key\)/);
    assert.ok(!(r.stdout + r.stderr).includes('not-the-right-key-123'));
  });

  void it('refuses to run without a server address, a key or an event, exit code 2', async (t) => {
    const dataDir = await tempDir(t);
    const noUrl = await run(['--event', 'e1'], { GATE_AGENT_DATA_DIR: dataDir, GATE_AGENT_SYNC_API_KEY: 'k' });
    assert.equal(noUrl.code, 2);
    assert.match(noUrl.stderr, /no central server address; set sync.baseUrl in the config or pass --url/);
    const noKey = await run(['--event', 'e1', '--url', 'http://127.0.0.1:9'], { GATE_AGENT_DATA_DIR: dataDir });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /no sync API key; set GATE_AGENT_SYNC_API_KEY, sync.apiKeyFile or --api-key-file/);
    const noEvent = await run(['--url', 'http://127.0.0.1:9'], { GATE_AGENT_DATA_DIR: dataDir, GATE_AGENT_SYNC_API_KEY: 'k' });
    assert.equal(noEvent.code, 2);
    assert.match(noEvent.stderr, /the local cache has no events yet; name one with --event <id>/);
  });
});
