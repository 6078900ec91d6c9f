// Several thousand malformed requests over raw loopback sockets: no 5xx, every
// error is {"detail"}, slow clients are cut off by the server's own timeouts,
// and a good request is still answered afterwards. Inputs come from a seeded
// generator so a failure can be replayed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { ConnectTarget } from '../../src/api/fetch-image.js';
import { dataUrl, EVENT, startApi, testImage, type Api } from './helpers.js';

const SEED = 0x5eed;
const TOTAL = 3000;
const CONCURRENCY = 40;

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  kind: string;
  bytes: Buffer;
  /** False where the request is incomplete on purpose and the server may just drop it. */
  mustAnswer: boolean;
}

function generator(key: string): (i: number) => Case {
  const rnd = prng(SEED);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const printable = (n: number) => Array.from({ length: n }, () => String.fromCharCode(33 + int(94))).join('');
  const badUrls = [
    'http://[::1',
    'http://%00/',
    'http://a b/',
    'javascript:alert(1)',
    'data:',
    'data:image/png;base64,',
    'data:image/png;base64,%%%',
    'file:',
    'file:///../../etc/passwd',
    'http://',
    'https://:0/',
    'http://127.0.0.1:0/x',
    'http://10.0.0.1/x',
    'http://169.254.169.254/',
    'http://example.invalid/x.png',
    'http://[fe80::1%25eth0]/',
    '\u0000',
    '%zz',
  ];
  const head = (method: string, target: string, extra: string[] = [], body: string | Buffer = '', length = Buffer.byteLength(body)): Buffer =>
    Buffer.concat([
      Buffer.from([`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...extra, `Content-Length: ${length}`, '', ''].join('\r\n')),
      Buffer.from(body),
    ]);
  const contentTypes = ['application/octet-stream', 'image/png', 'multipart/form-data; boundary=x', 'text/plain', 'application/json', 'x/y'];
  const gens: ((i: number) => Case)[] = [
    () => ({ kind: 'garbage', bytes: Buffer.concat([bytes(1 + int(200)), Buffer.from('\r\n\r\n')]), mustAnswer: false }),
    () => ({ kind: 'bad-json', bytes: head('POST', `/identity?event_id=${EVENT}&image_url=x`, [`x-api-key: ${key}`, 'Content-Type: application/json'], `{"a": ${printable(int(50))}`), mustAnswer: true }),
    () => ({ kind: 'binary-body', bytes: head('POST', `/identity?event_id=${EVENT}&image_url=x`, [`x-api-key: ${key}`, `Content-Type: ${pick(contentTypes)}`], bytes(int(2048))), mustAnswer: true }),
    () => ({ kind: 'huge-header', bytes: head('POST', '/identity', [`x-filler: ${'a'.repeat(9000 + int(20000))}`]), mustAnswer: true }),
    () => ({ kind: 'many-headers', bytes: head('POST', '/identity', Array.from({ length: 2500 }, (_, k) => `x-h${k}: v`)), mustAnswer: true }),
    () => ({ kind: 'bad-url', bytes: head('POST', `/identity?event_id=${EVENT}&image_url=${encodeURIComponent(pick(badUrls))}`, [`x-api-key: ${key}`]), mustAnswer: true }),
    () => ({ kind: 'bad-query', bytes: head('POST', `/identity?${printable(int(300)).replace(/ /g, '')}`, [`x-api-key: ${key}`]), mustAnswer: false }),
    () => ({ kind: 'bad-path', bytes: head(pick(['GET', 'POST', 'PUT', 'DELETE', 'FOO', 'OPTIONS']), `/${printable(int(60)).replace(/[ #]/g, '')}`), mustAnswer: false }),
    () => ({ kind: 'bad-key', bytes: head('POST', `/identity?event_id=${EVENT}&image_url=x`, [`x-api-key: ${printable(int(200))}`]), mustAnswer: true }),
    () => ({ kind: 'bad-chunked', bytes: Buffer.from(`POST /identity HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${pick(['zz', '-1', 'ffffffffffffffff', '5'])}\r\nabc\r\n0\r\n\r\n`), mustAnswer: false }),
    // Announces more body than it sends, then closes: the server may drop it.
    () => ({ kind: 'short-body', bytes: head('POST', '/identity', ['Content-Type: application/json'], '{"a":', 100), mustAnswer: false }),
    () => ({ kind: 'bad-content-type', bytes: head('POST', `/identity?event_id=${EVENT}&image_url=x`, [`Content-Type: ${printable(int(40))}`], 'x'), mustAnswer: true }),
  ];
  return (i) => (gens[i % gens.length] as (i: number) => Case)(i);
}

interface RawReply {
  status: number | null;
  head: string;
  body: string;
}

/** Send `bytes`, half-close, and read whatever comes back until the server closes. */
function raw(port: number, bytes: Buffer, timeoutMs = 3000): Promise<RawReply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => sock.destroy(), timeoutMs);
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', () => undefined); // resets are an acceptable answer to garbage
    sock.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : null, head, body });
    });
    sock.end(bytes);
  });
}

function assertDetail(r: RawReply, what: string): void {
  assert.match(r.head, /content-type: application\/json/i, `${what}: ${r.head}`);
  const body = JSON.parse(r.body) as { detail?: unknown };
  assert.equal(typeof body.detail, 'string', `${what}: ${r.body}`);
}

async function goodRequestWorks(api: Api): Promise<void> {
  const r = await api.identify({ event_id: EVENT, image_url: dataUrl(await testImage('png')) });
  assert.equal(r.status, 200, r.text);
}

void test('thousands of malformed requests: no 5xx, all errors are {"detail"}, the server keeps answering', async (t) => {
  const connects: ConnectTarget[] = [];
  const api = await startApi(t, {
    config: { maxHeaderBytes: 8192, bodyLimitBytes: 1024, rateLimitPerIpBurst: 1e6, rateLimitPerKeyBurst: 1e6, rateLimitTotalBurst: 1e6, maxConnectionsPerAddress: 256, imageFetchTimeoutMs: 500 },
    // No real DNS and no non-loopback traffic, whatever the generator produces.
    resolve: async () => {
      throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
    },
    onConnect: (target) => {
      connects.push(target);
      if (!target.address.startsWith('127.')) throw new Error(`test guard: refused connect to ${target.address}`);
    },
  });
  const next = generator(api.key);
  const byStatus = new Map<string, number>();
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < TOTAL) {
      const c = next(i++);
      const r = await raw(api.port, c.bytes);
      byStatus.set(`${c.kind}:${r.status}`, (byStatus.get(`${c.kind}:${r.status}`) ?? 0) + 1);
      if (r.status === null) {
        assert.ok(!c.mustAnswer, `${c.kind} got no answer`);
        continue;
      }
      assert.ok(r.status < 500, `${c.kind} -> ${r.status}: ${r.body}`);
      if (r.status >= 400) assertDetail(r, c.kind);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  t.diagnostic(JSON.stringify(Object.fromEntries([...byStatus].sort())));
  assert.deepStrictEqual(connects, [], 'no outgoing connection at all');
  assert.ok((byStatus.get('huge-header:431') ?? 0) > 0, 'oversized heads are refused with 431');
  assert.ok((byStatus.get('bad-json:422') ?? 0) > 0, 'bad JSON bodies are ignored, the query is checked');
  await goodRequestWorks(api);
  assert.equal((await api.req('/healthz')).status, 200);
});

void test('slow clients are cut off by the header and request timeouts while others are served', async (t) => {
  const api = await startApi(t, { config: { headersTimeoutMs: 300, requestTimeoutMs: 600, connectionsCheckIntervalMs: 50 } });
  // Sockets that send a partial head and then go quiet, and ones that trickle
  // a byte at a time so that no single gap is long but the whole head is late.
  const quiet = Array.from({ length: 20 }, () => slowClient(api.port, ['POST /identity HTTP/1.1\r\nHost: x\r\n'], 0));
  const trickle = Array.from({ length: 5 }, () => slowClient(api.port, 'POST /identity?event_id=a HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n'.split(''), 40));
  await goodRequestWorks(api);
  const slow = await Promise.all([...quiet, ...trickle]);
  for (const r of slow) {
    assert.equal(r.status, 408, r.head);
    assertDetail(r, 'slow client');
    assert.match(JSON.parse(r.body).detail as string, /not received completely within 300 ms/);
  }
  await goodRequestWorks(api);
});

/** Write `parts` one every `gapMs`, then stay silent until the server closes (at most 5 s). */
function slowClient(port: number, parts: string[], gapMs: number): Promise<RawReply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(port, '127.0.0.1');
    let k = 0;
    const tick = setInterval(() => {
      if (k < parts.length && sock.writable) sock.write(parts[k++] as string);
    }, Math.max(1, gapMs));
    const giveUp = setTimeout(() => sock.destroy(), 5000);
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearInterval(tick);
      clearTimeout(giveUp);
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : null, head, body });
    });
  });
}

void test('requests node refuses before the framework runs (no Host, unsupported Expect) are answered in {"detail"}', async (t) => {
  const api = await startApi(t);
  const cases: [string, string, number, RegExp][] = [
    ['no Host, HTTP/1.1', 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n', 400, /no Host header/],
    ['no Host, POST /identity', `POST /identity?event_id=${EVENT} HTTP/1.1\r\nx-api-key: ${api.key}\r\nConnection: close\r\n\r\n`, 400, /no Host header/],
    ['Expect: something-else', 'POST /identity HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nConnection: close\r\n\r\n', 417, /Expect header "200-ok" is not supported/],
  ];
  for (const [what, bytes, status, detail] of cases) {
    const r = await raw(api.port, Buffer.from(bytes));
    assert.equal(r.status, status, `${what}: ${r.head}`);
    assertDetail(r, what);
    assert.match((JSON.parse(r.body) as { detail: string }).detail, detail, what);
  }
  // HTTP/1.0 has no Host requirement; it is still served.
  const old = await raw(api.port, Buffer.from('GET /healthz HTTP/1.0\r\n\r\n'));
  assert.equal(old.status, 200, old.head);
  assert.equal(api.identity.calls.length, 0, 'a refused request never reached recognition');
  await goodRequestWorks(api);
});
