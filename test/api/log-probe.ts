// Run by logging.test.ts in a child process with logging on: serves a few
// requests that carry secrets (key, image, KYC, a token in the image URL) so
// the parent can check stderr for them. Not a test file itself.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { createApiServer } from '../../src/api/server.js';
import { createKey, SqliteApiKeyStore } from '../../src/api/keys.js';
import { dataUrl, EVENT, FakeIdentity, request, testImage } from './helpers.js';
import { migrate } from '../../src/store/migrations.js';

const dir = mkdtempSync(join(tmpdir(), 'gate-api-log-'));
const db = new Database(join(dir, 'agent.db'));
const png = await testImage('png');
const images = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end(png));
await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
const imagePort = (images.address() as AddressInfo).port;
try {
  migrate(db);
  const { key } = createKey(db, 'log-probe');
  const identity = new FakeIdentity();
  const server = createApiServer({ identity, keys: new SqliteApiKeyStore(db), config: { imageAllowList: [`127.0.0.1:${imagePort}`] } });
  const { port } = await server.listen('127.0.0.1', 0);
  const post = (params: Record<string, string>, k: string) =>
    request(port, `/identity?${new URLSearchParams(params).toString()}`, { method: 'POST', headers: { 'x-api-key': k } });
  const statuses = [
    (await post({ event_id: EVENT, image_url: dataUrl(png) }, key)).status,
    (await post({ event_id: EVENT, image_url: `http://127.0.0.1:${imagePort}/face.png?token=SECRET-TOKEN-123` }, key)).status,
    (await post({ event_id: EVENT, image_url: dataUrl(png) }, 'sgk_WRONG-KEY-SECRET-456')).status,
  ];
  identity.outcome = async () => {
    throw new Error('pipeline failure');
  };
  statuses.push((await post({ event_id: EVENT, image_url: dataUrl(png) }, key)).status);
  await server.close();
  // The parent reads this line from stdout; logs go to stderr.
  process.stdout.write(`${JSON.stringify({ key, statuses, image: png.toString('base64') })}\n`);
} finally {
  images.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
}
