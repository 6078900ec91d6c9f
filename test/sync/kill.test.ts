// SIGKILL in the middle of a large sync: the database must be intact and hold
// whole pages only, with the cursor of the last complete one, and the next run
// must resume from exactly there.
import '../api/quiet-logs.js';
import { it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { syncEvent } from '../../src/sync/sync.js';
import { ROOT } from '../paths.js';
import { MODEL, openTestStore, storedCursor, syncOpts, tempDir, testClient, testServer, userIds } from './helpers.js';
import { own } from '../proc.js';

const CHILD = join(ROOT, 'dist', 'test', 'sync', 'sync-child.js');
const ATTENDEES = 3000;
const PAGE = 100;

for (const hold of [false, true]) {
  const when = hold ? 'inside the uncommitted transaction of page 4' : 'after page 3 (wherever the child then is)';
  void it(`SIGKILL ${when}: intact database of whole pages only; the next run resumes after the last one`, async (t) => {
    await killedSync(t, hold);
  });
}

async function killedSync(t: TestContext, hold: boolean): Promise<void> {
  const server = await testServer(t, ATTENDEES);
  const dataDir = await tempDir(t);
  const child = own(spawn(process.execPath, [CHILD, dataDir, server.baseUrl, String(PAGE), ...(hold ? ['4'] : [])], {
    env: { ...process.env, GATE_AGENT_SYNC_API_KEY: server.apiKey, GATE_AGENT_LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'inherit'],
  }));
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  // Without hold: killed as soon as it reports its third page, while it fetches or applies the fourth.
  for await (const line of createInterface({ input: child.stdout })) {
    if (line === (hold ? 'holding' : 'page 3')) {
      child.kill('SIGKILL');
      break;
    }
    assert.notEqual(line, 'done', 'the child finished before it could be killed');
  }
  assert.equal(await exited, 'SIGKILL');

  const store = openTestStore(dataDir);
  t.after(() => store.db.close());
  assert.equal(store.db.pragma('integrity_check', { simple: true }), 'ok');
  const cursor = storedCursor(store);
  const k = server.served.findIndex((p) => p.nextCursor === cursor);
  assert.ok(k >= 2, `the stored cursor is the one after a served page at or beyond page 3 (found page ${k + 1})`);
  if (hold) assert.equal(k, 2, 'the held page 4 was written but never committed');
  const expected = server.served.slice(0, k + 1).flatMap((p) => p.userIds).sort();
  assert.equal(expected.length, (k + 1) * PAGE);
  assert.deepEqual(userIds(store), expected, 'exactly the attendees of pages 1..k, none of a half-applied page');
  assert.equal(store.countEmbeddings('evt_test', MODEL), expected.length, 'every applied attendee has its embedding');
  assert.equal(store.getSyncState('evt_test').modelId, MODEL);

  const before = server.requests.length;
  const r = await syncEvent(syncOpts(store, testClient(server), { pageSize: PAGE }));
  assert.equal(server.requests[before]!.cursor, cursor, 'the next run asks for the page after the last complete one');
  assert.equal(r.upserts, ATTENDEES - expected.length);
  assert.equal(userIds(store).length, ATTENDEES);
}
