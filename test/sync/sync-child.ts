// A gate syncing one event in its own process, for the SIGKILL test: prints
// "page N" after each applied page so the parent knows when to kill it.
// argv: dataDir baseUrl pageSize [holdPage]; the API key comes in GATE_AGENT_SYNC_API_KEY.
// With holdPage, the child stops inside that page's transaction after all of its
// rows are written, says "holding", and waits there to be killed: the kill then
// lands in an uncommitted transaction, not by luck somewhere else.
import '../api/quiet-logs.js';
import { HttpCentralClient } from '../../src/sync/client.js';
import { syncEvent } from '../../src/sync/sync.js';
import { MODEL, openTestStore } from './helpers.js';

const [dataDir, baseUrl, pageSize, holdPage] = process.argv.slice(2);
const store = openTestStore(dataDir!);
if (holdPage) {
  const transaction = store.transaction.bind(store);
  let n = 0;
  store.transaction = <T>(fn: () => T): T =>
    transaction(() => {
      const r = fn();
      if (++n === Number(holdPage)) {
        // stdout to a pipe is synchronous on Linux, so the parent sees this before the wait.
        process.stdout.write('holding\n');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30_000);
      }
      return r;
    });
}
const client = new HttpCentralClient({ baseUrl: baseUrl!, apiKey: process.env.GATE_AGENT_SYNC_API_KEY!, requestTimeoutMs: 10_000, maxPageBytes: 64 * 1024 * 1024 });
await syncEvent({
  store,
  client,
  eventId: 'evt_test',
  modelId: MODEL,
  pageSize: Number(pageSize),
  onProgress: (p) => process.stdout.write(`page ${p.pages}\n`),
});
process.stdout.write('done\n');
