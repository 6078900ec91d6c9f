// The agent's one HTTP client (src/http/get.ts) against real servers on loopback: every
// failure kind it reports, the pinned address, redirects hop by hop, the body cap, the
// deadline and the idle timeout, streaming into a sink. The SSRF guard built on it is
// tested through the API in test/api/ssrf.test.ts and errors.test.ts.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpGet, HttpFailure, type HttpGetOptions, type PinnedAddress } from '../../src/http/get.js';
import { closedPort, tempDir } from '../api/helpers.js';
import { until } from '../proc.js';

interface Server {
  port: number;
  url: (path?: string) => URL;
  requests: { url: string; host: string | undefined }[];
  connections: number;
}

async function server(t: TestContext, handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const sockets = new Set<Socket>();
  const s: Server = { port: 0, url: (path = '/') => new URL(`http://127.0.0.1:${s.port}${path}`), requests: [], connections: 0 };
  const srv = http.createServer((req, res) => {
    s.requests.push({ url: req.url ?? '', host: req.headers.host });
    handle(req, res);
  });
  srv.on('connection', (sock: Socket) => {
    s.connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  s.port = (srv.address() as AddressInfo).port;
  t.after(() => {
    for (const sock of sockets) sock.destroy();
    return new Promise<void>((resolve) => srv.close(() => resolve()));
  });
  return s;
}

async function failure(url: URL, opts: HttpGetOptions): Promise<HttpFailure> {
  try {
    await httpGet(url, opts);
  } catch (err) {
    assert.ok(err instanceof HttpFailure, `an HttpFailure, not ${String(err)}`);
    return err;
  }
  assert.fail(`${url.href} was fetched`);
}

void test('a body comes back with status and headers; an error status is an answer, not a failure', async (t) => {
  const s = await server(t, (req, res) => {
    if (req.url === '/missing') return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"detail":"no such page"}');
    res.writeHead(200, { etag: '"v1"' }).end(`hello ${req.headers['x-key'] ?? ''}`);
  });
  const ok = await httpGet(s.url('/a?b=1'), { headers: { 'x-key': 'k' } });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.toString(), 'hello k');
  assert.equal(ok.headers.etag, '"v1"');
  assert.equal(s.requests[0]?.url, '/a?b=1');
  const missing = await httpGet(s.url('/missing'));
  assert.equal(missing.status, 404);
  assert.equal(missing.body.toString(), '{"detail":"no such page"}');
  const unread = await httpGet(s.url('/missing'), { wantBody: (status) => status === 200 });
  assert.equal(unread.status, 404);
  assert.equal(unread.body.length, 0, 'a body the caller does not want is not read');
});

void test('the body cap: a declared length over it is refused before reading, a streamed one as soon as it passes', async (t) => {
  const s = await server(t, (req, res) => {
    if (req.url === '/declared') return void res.writeHead(200, { 'content-length': 5000 }).end(Buffer.alloc(5000));
    // Chunked, no length: the cap must count the bytes.
    res.writeHead(200);
    res.write(Buffer.alloc(600));
    res.end(Buffer.alloc(600));
  });
  for (const path of ['/declared', '/chunked']) {
    const f = await failure(s.url(path), { maxBytes: 1000 });
    assert.equal(f.kind, 'too-large', path);
    assert.match(f.message, /sent more than 1000 bytes/);
  }
  assert.equal((await httpGet(s.url('/chunked'), { maxBytes: 1200 })).body.length, 1200, 'exactly the cap is allowed');
});

void test('one deadline covers a silent server, an idle timeout a stalled body; each says how far the request got', async (t) => {
  const s = await server(t, (req, res) => {
    if (req.url === '/silent') return; // never answers
    res.writeHead(200, { 'content-length': 100 });
    res.write(Buffer.alloc(10)); // then stalls
  });
  const silent = await failure(s.url('/silent'), { timeoutMs: 200 });
  assert.equal(silent.kind, 'timeout');
  assert.equal(silent.progress.connected, true);
  assert.equal(silent.progress.responded, false);
  const stalled = await failure(s.url('/stalled'), { idleTimeoutMs: 200 });
  assert.equal(stalled.kind, 'timeout');
  assert.equal(stalled.progress.responded, true);
  assert.match(stalled.message, /nothing arrived for 200 ms/);
});

void test('a refused port is a network failure with its code; a connection cut mid-body is a cut one', async (t) => {
  const refused = await failure(new URL(`http://127.0.0.1:${await closedPort()}/`), { timeoutMs: 5000 });
  assert.equal(refused.kind, 'network');
  assert.equal(refused.code, 'ECONNREFUSED');
  assert.equal(refused.progress.responded, false);
  const s = await server(t, (_req, res) => {
    res.writeHead(200, { 'content-length': 1000 });
    res.write(Buffer.alloc(100), () => setImmediate(() => res.socket?.destroy()));
  });
  const cut = await failure(s.url('/'), { timeoutMs: 5000 });
  assert.equal(cut.kind, 'cut');
  assert.equal(cut.code, 'ECONNRESET');
});

void test('the caller\'s signal stops a request, also one that has not begun', async (t) => {
  const s = await server(t, () => undefined);
  const controller = new AbortController();
  const pending = failure(s.url('/'), { signal: controller.signal, timeoutMs: 10_000 });
  await until('the server to have the request', () => (s.requests.length > 0 ? true : undefined), 5000);
  controller.abort();
  assert.equal((await pending).kind, 'aborted');
  const before = s.connections;
  assert.equal((await failure(s.url('/'), { signal: controller.signal })).kind, 'aborted');
  assert.equal(s.connections, before, 'no connection for an already stopped request');
});

void test('pin: each hop connects to the address it returns, under the URL\'s name; a refusal passes through and opens no socket', async (t) => {
  const target = await server(t, (_req, res) => void res.end('image'));
  const bouncer = await server(t, (_req, res) => void res.writeHead(302, { location: `http://images.test:${target.port}/face.png` }).end());
  const pinned: [string, number][] = [];
  const connects: PinnedAddress[] = [];
  const res = await httpGet(new URL(`http://gate-photos.test:${bouncer.port}/start`), {
    maxRedirects: 2,
    // Neither name resolves anywhere: only the pin can make these connections work.
    pin: async (url, hop) => {
      pinned.push([url.host, hop]);
      return { hostname: url.hostname, address: '127.0.0.1', port: Number(url.port) };
    },
    onConnect: (c) => connects.push(c),
  });
  assert.equal(res.body.toString(), 'image');
  assert.equal(res.url.href, `http://images.test:${target.port}/face.png`);
  assert.deepEqual(pinned, [[`gate-photos.test:${bouncer.port}`, 0], [`images.test:${target.port}`, 1]]);
  assert.deepEqual(connects.map((c) => [c.hostname, c.address, c.port]), [['gate-photos.test', '127.0.0.1', bouncer.port], ['images.test', '127.0.0.1', target.port]]);
  assert.equal(target.requests[0]?.host, `images.test:${target.port}`, 'the Host header keeps the name');

  const refusal = new Error('not on the allow-list');
  const before = target.connections;
  await assert.rejects(httpGet(target.url(), { pin: async () => Promise.reject(refusal) }), (err) => err === refusal);
  await assert.rejects(
    httpGet(target.url(), {
      pin: async (url) => ({ hostname: url.hostname, address: '127.0.0.1', port: target.port }),
      onConnect: () => {
        throw refusal;
      },
    }),
    (err) => err === refusal,
  );
  assert.equal(target.connections, before, 'no socket for a refused hop');

  const slow = await failure(target.url(), { timeoutMs: 100, pin: () => new Promise(() => undefined) });
  assert.equal(slow.kind, 'timeout', 'the deadline covers the pin (the name lookup)');
  assert.equal(slow.progress.pinned, null);
});

void test('redirects: followed up to maxRedirects, refused past it or to a non-http URL, returned as they are without it', async (t) => {
  const s = await server(t, (req, res) => {
    const hops: Record<string, string> = { '/loop': '/loop', '/file': 'file:///etc/passwd', '/once': '/done' };
    if (req.url === '/done') return void res.end('done');
    res.writeHead(302, { location: hops[req.url ?? ''] ?? '/done' }).end();
  });
  assert.equal((await httpGet(s.url('/once'), { maxRedirects: 1 })).body.toString(), 'done');
  const before = s.requests.length;
  const loop = await failure(s.url('/loop'), { maxRedirects: 3 });
  assert.equal(loop.kind, 'redirects');
  assert.equal(s.requests.length - before, 4, 'the first request and 3 redirects');
  const file = await failure(s.url('/file'), { maxRedirects: 3 });
  assert.equal(file.kind, 'bad-redirect');
  assert.match(file.message, /redirected to a file: URL/);
  const asIs = await httpGet(s.url('/once'));
  assert.equal(asIs.status, 302);
  assert.equal(asIs.headers.location, '/done');
  const own = new Error('no credentials in redirects');
  await assert.rejects(
    httpGet(s.url('/once'), {
      maxRedirects: 1,
      redirect: () => {
        throw own;
      },
    }),
    (err) => err === own,
  );
});

void test('a sink takes the body as it streams; it is made only for a body that is wanted', async (t) => {
  const big = Buffer.alloc(3 * 1024 * 1024, 7);
  const s = await server(t, (req, res) => {
    if (req.url === '/missing') return void res.writeHead(404).end();
    res.writeHead(200).end(big);
  });
  const dir = await tempDir(t);
  const made: string[] = [];
  const sinkTo = (name: string) => () => {
    made.push(name);
    return createWriteStream(join(dir, name));
  };
  const res = await httpGet(s.url('/pack.zip'), { sink: sinkTo('pack.zip'), wantBody: (status) => status === 200 });
  assert.equal(res.body.length, 0);
  assert.ok(readFileSync(join(dir, 'pack.zip')).equals(big));
  const missing = await httpGet(s.url('/missing'), { sink: sinkTo('missing.zip'), wantBody: (status) => status === 200 });
  assert.equal(missing.status, 404);
  assert.deepEqual(made, ['pack.zip']);
  assert.equal(existsSync(join(dir, 'missing.zip')), false);
  const capped = await failure(s.url('/pack.zip'), { sink: sinkTo('capped.zip'), maxBytes: 1024 * 1024 });
  assert.equal(capped.kind, 'too-large');
});
