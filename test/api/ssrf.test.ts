// SSRF: image_url must not turn the gate into a proxy into its own network.
// Only loopback traffic is ever sent: refused non-loopback targets are
// asserted to get no connection attempt (the onConnect spy sits right before
// the socket is opened, and the fetcher connects only through it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { systemResolver, type ResolvedAddress } from '../../src/api/fetch-image.js';
import { detailOf, EVENT, imageServer, startApi, tempDir, UNUSABLE_HOST, type Api, type Reply } from './helpers.js';

const GENERIC_REFUSAL = UNUSABLE_HOST;

/**
 * The client gets the generic refusal; where the host resolved to and what
 * kind of address it is (`specific`) are in the API log at warn, and only there.
 */
function assertRefusedQuietly(api: Api, r: Reply, logsBefore: number, specific: RegExp, what: string): void {
  assert.equal(r.status, 400, `${what} -> ${r.text}`);
  const detail = detailOf(r);
  assert.match(detail, GENERIC_REFUSAL, what);
  assert.doesNotMatch(detail, specific, `${what}: the answer keeps the specifics to the log`);
  // The host as the client wrote it may be echoed (metadata.test); nothing after it.
  const afterHost = detail.replace(/^image_url (host \S+|redirected to \S+, which) /, '');
  assert.doesNotMatch(afterHost, /resolves to|loopback|private|metadata|link-local|cgnat|multicast|unspecified|\d+\.\d+\.\d+\.\d+/, what);
  const refusals = api.logs.slice(logsBefore).filter((l) => l.msg === 'request refused');
  assert.equal(refusals.length, 1, `${what}: one refusal logged`);
  const line = refusals[0]!;
  assert.equal(line.level, 40, `${what}: logged at warn`);
  assert.match(String(line.detail), specific, `${what}: the log has the specifics`);
  assert.equal(line.client, 'test-client', 'the key is logged by its name');
  assert.ok(!JSON.stringify(api.logs).includes(api.key), 'the API key is never logged');
}

function redirectTo(location: string) {
  return (_req: unknown, res: import('node:http').ServerResponse) => res.writeHead(302, { location }).end();
}

void test('without an allow-list, loopback, private, link-local and metadata hosts are refused before connecting', async (t) => {
  const img = await imageServer(t);
  const resolved: string[] = [];
  const api = await startApi(t, {
    resolve: async (host): Promise<ResolvedAddress[]> => {
      resolved.push(host);
      // The hosts file answers this one; no DNS server is asked.
      if (host === 'localhost') return systemResolver(host);
      if (host === 'rebind.test') return [{ address: '127.0.0.1', family: 4 }];
      // One public and one internal answer: refusing needs only one bad address.
      if (host === 'mixed.test') return [{ address: '93.184.216.34', family: 4 }, { address: '10.1.2.3', family: 4 }];
      if (host === 'mapped.test') return [{ address: '::ffff:169.254.169.254', family: 6 }];
      throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
    },
  });
  const cases: [string, RegExp][] = [
    [img.url(), /127\.0\.0\.1:\d+, a loopback address, which the gate does not fetch from.*allow-list/],
    [`http://[::1]:${img.port}/face.png`, /::1:\d+, a loopback address/],
    [`http://[::ffff:127.0.0.1]:${img.port}/face.png`, /a loopback address/],
    [`http://2130706433:${img.port}/face.png`, /127\.0\.0\.1:\d+, a loopback address/],
    [`http://0x7f.1:${img.port}/face.png`, /127\.0\.0\.1:\d+, a loopback address/],
    [`http://localhost:${img.port}/face.png`, /a loopback address/],
    [`http://rebind.test:${img.port}/face.png`, /rebind\.test:\d+ resolves to 127\.0\.0\.1:\d+, a loopback address/],
    ['http://169.254.169.254/latest/meta-data/iam/security-credentials/', /169\.254\.169\.254, a metadata address, which the gate never fetches from/],
    ['http://[fd00:ec2::254]/latest/meta-data/', /a metadata address, which the gate never fetches from/],
    ['http://mapped.test/latest/meta-data/', /::ffff:169\.254\.169\.254, a metadata address/],
    ['http://10.0.0.1/face.png', /10\.0\.0\.1:80, a private address/],
    ['http://172.16.5.4/face.png', /a private address/],
    ['http://192.168.1.20:8080/face.png', /192\.168\.1\.20:8080, a private address/],
    ['http://100.64.0.1/face.png', /a cgnat address/],
    ['http://169.254.10.10/face.png', /a link-local address/],
    ['http://[fe80::1]/face.png', /a link-local address/],
    ['http://[fc00::1]/face.png', /a private address/],
    ['https://0.0.0.0/face.png', /an unspecified address, which the gate never fetches/],
    ['http://224.0.0.1/face.png', /a multicast address/],
    ['http://mixed.test/face.png', /10\.1\.2\.3:80, a private address/],
  ];
  for (const [url, specific] of cases) {
    const before = api.logs.length;
    const r = await api.identify({ event_id: EVENT, image_url: url });
    assertRefusedQuietly(api, r, before, specific, url);
  }
  assert.deepStrictEqual(api.connects, [], 'no connection was attempted for any refused host');
  assert.equal(img.connections, 0);
  assert.deepStrictEqual(resolved, ['localhost', 'rebind.test', 'mapped.test', 'mixed.test'], 'address literals skip the resolver');
  assert.equal(api.identity.calls.length, 0);
});

void test('the allow-listed loopback image server is fetched, at exactly the checked address', async (t) => {
  const img = await imageServer(t);
  const api = await startApi(t, { config: { imageAllowList: [`127.0.0.1:${img.port}`] } });
  const r = await api.identify({ event_id: EVENT, image_url: img.url() });
  assert.equal(r.status, 200, r.text);
  assert.deepStrictEqual(api.connects, [{ hostname: '127.0.0.1', address: '127.0.0.1', port: img.port }]);
  assert.equal(img.requests.length, 1);
  // The port is part of the entry: the same host on another port stays closed.
  const other = await imageServer(t);
  const refused = await api.identify({ event_id: EVENT, image_url: other.url() });
  assert.equal(refused.status, 400);
  assert.equal(other.connections, 0);
});

void test('a rebinding name is resolved once and the socket goes to that answer (no second lookup)', async (t) => {
  const img = await imageServer(t);
  let lookups = 0;
  const api = await startApi(t, {
    config: { imageAllowList: [`127.0.0.1:${img.port}`] },
    // First answer passes the check; any later answer would be a private
    // address. Only the first may ever be used.
    resolve: async () => (++lookups === 1 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '10.0.0.1', family: 4 }]),
  });
  const r = await api.identify({ event_id: EVENT, image_url: `http://rebind.test:${img.port}/face.png` });
  assert.equal(r.status, 200, r.text);
  assert.equal(lookups, 1);
  assert.deepStrictEqual(api.connects, [{ hostname: 'rebind.test', address: '127.0.0.1', port: img.port }]);
  assert.equal(img.requests[0]?.host, `rebind.test:${img.port}`, 'the Host header keeps the name');
});

void test('redirects are checked hop by hop: an allow-listed server cannot bounce the gate elsewhere', async (t) => {
  const hidden = await imageServer(t);
  const bouncer = await imageServer(t, (req, res) => {
    const to: Record<string, string> = {
      '/other-port': hidden.url(),
      '/other-loopback': `http://127.0.0.2:${hidden.port}/face.png`,
      '/metadata': 'http://169.254.169.254/latest/meta-data/',
      '/private': 'http://10.0.0.1/face.png',
      '/file': 'file:///etc/passwd',
      '/loop': '/loop',
      '/credentials': `http://user:pass@127.0.0.1:${hidden.port}/face.png`,
    };
    redirectTo(to[req.url ?? ''] ?? '/nowhere')(req, res);
  });
  const api = await startApi(t, { config: { imageAllowList: [`127.0.0.1:${bouncer.port}`], imageMaxRedirects: 3 } });
  const cases: [string, RegExp][] = [
    ['/other-port', new RegExp(`redirected to http://127\\.0\\.0\\.1:${hidden.port}, which resolves to 127\\.0\\.0\\.1:${hidden.port}, a loopback address`)],
    ['/other-loopback', /redirected to http:\/\/127\.0\.0\.2:\d+, which resolves to 127\.0\.0\.2:\d+, a loopback address/],
    ['/metadata', /redirected to http:\/\/169\.254\.169\.254, which resolves to 169\.254\.169\.254, a metadata address/],
    ['/private', /redirected to http:\/\/10\.0\.0\.1, which resolves to 10\.0\.0\.1:80, a private address/],
    ['/file', /redirected to a file: URL; only http and https redirects are followed/],
    ['/loop', /redirected more than 3 times; give the final image address directly/],
    ['/credentials', /redirected to a URL with credentials \(user:password@\); serve the image without authentication/],
  ];
  for (const [path, detail] of cases) {
    const before = api.logs.length;
    const r = await api.identify({ event_id: EVENT, image_url: bouncer.url(path) });
    assert.equal(r.status, 400, `${path} -> ${r.text}`);
    if (/resolves to/.test(detail.source)) assertRefusedQuietly(api, r, before, detail, path);
    else assert.match(detailOf(r), detail, path);
  }
  assert.equal(hidden.connections, 0, 'the non-allow-listed server was never contacted');
  assert.ok(api.connects.every((c) => c.address === '127.0.0.1' && c.port === bouncer.port), JSON.stringify(api.connects));
  assert.equal(api.connects.length, 6 + 4, 'one hop each, and 1 + 3 hops for the loop');
});

void test('a redirect within the allow-list is followed', async (t) => {
  const target = await imageServer(t);
  const bouncer = await imageServer(t, redirectTo(target.url()));
  const api = await startApi(t, { config: { imageAllowList: [`127.0.0.1:${bouncer.port}`, `127.0.0.1:${target.port}`] } });
  const r = await api.identify({ event_id: EVENT, image_url: bouncer.url('/start') });
  assert.equal(r.status, 200, r.text);
  assert.deepStrictEqual(
    api.connects.map((c) => c.port),
    [bouncer.port, target.port],
  );
});

void test('the allow-list never opens metadata, unspecified or multicast addresses', async (t) => {
  const api = await startApi(t, {
    config: { imageAllowList: ['169.254.169.254', '0.0.0.0/8', '224.0.0.0/4', 'metadata.test'] },
    resolve: async () => [{ address: '169.254.169.254', family: 4 }],
  });
  for (const url of ['http://169.254.169.254/', 'http://metadata.test/', 'http://0.0.0.0/', 'http://224.0.0.1/']) {
    const before = api.logs.length;
    const r = await api.identify({ event_id: EVENT, image_url: url });
    assertRefusedQuietly(api, r, before, /never fetches from \(not even with the allow-list\)/, url);
  }
  assert.deepStrictEqual(api.connects, []);
});

void test('a CIDR allow-list entry opens a LAN range by resolved address, including through a name', async (t) => {
  const img = await imageServer(t);
  const api = await startApi(t, {
    config: { imageAllowList: ['127.0.0.0/30'] },
    resolve: async () => [{ address: '127.0.0.1', family: 4 }],
  });
  assert.equal((await api.identify({ event_id: EVENT, image_url: `http://camera.lan:${img.port}/face.png` })).status, 200);
  const outside = await api.identify({ event_id: EVENT, image_url: `http://127.0.0.9:${img.port}/face.png` });
  assert.equal(outside.status, 400);
  assert.deepStrictEqual(
    api.connects.map((c) => c.address),
    ['127.0.0.1'],
  );
});

void test('an invalid allow-list is rejected at start with every bad entry named', (t) => {
  return assert.rejects(
    startApi(t, { config: { imageAllowList: ['ok.lan', '10.0.0.0/99', 'bad host', 'x:70000'] } }),
    (err: Error) => /10\.0\.0\.0\/99.*not a valid CIDR/s.test(err.message) && /bad host.*not a host name/s.test(err.message) && /x:70000.*port/s.test(err.message),
  );
});

void test('https goes through the same pinned address and verifies the certificate', async (t) => {
  const dir = await tempDir(t);
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=images.test', '-addext', 'subjectAltName=DNS:images.test',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { encoding: 'utf8' });
  if (made.error || made.status !== 0) return t.skip('openssl not available to make a test certificate');
  let served = 0;
  const server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => {
    served++;
    res.end('x');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  const api = await startApi(t, { config: { imageAllowList: [`127.0.0.1:${port}`] }, resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
  const r = await api.identify({ event_id: EVENT, image_url: `https://images.test:${port}/face.png` });
  assert.equal(r.status, 400);
  // A self-signed certificate is not trusted: TLS verification is on for pinned connections.
  // The client hears only that the image could not be fetched; the log says why.
  assert.match(detailOf(r), UNUSABLE_HOST);
  assert.doesNotMatch(detailOf(r), /CERT/);
  assert.ok(
    api.logs.some((l) => l.msg === 'request refused' && /could not be fetched \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\)/.test(String(l.detail))),
    JSON.stringify(api.logs),
  );
  assert.deepStrictEqual(api.connects, [{ hostname: 'images.test', address: '127.0.0.1', port }]);
  assert.equal(served, 0);
});
