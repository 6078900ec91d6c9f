// Every error row of POST /identity: its status, and a {"detail"} that names
// the problem and the fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { revokeKey } from '../../src/api/keys.js';
import { closedPort, dataUrl, detailOf, EVENT, filteredPort, imageServer, startApi, testImage, UNUSABLE_HOST } from './helpers.js';

const png = () => testImage('png');

void test('401: missing, unknown and revoked API keys', async (t) => {
  const api = await startApi(t);
  const params = { event_id: EVENT, image_url: dataUrl(await png()) };
  const missing = await api.identify(params, { 'x-api-key': '' });
  assert.equal(missing.status, 401);
  assert.match(detailOf(missing), /missing x-api-key header.*keys create/);
  const wrong = await api.identify(params, { 'x-api-key': 'sgk_not-a-real-key' });
  assert.equal(wrong.status, 401);
  assert.match(detailOf(wrong), /not valid on this gate.*ask the operator/);
  assert.equal((await api.identify(params)).status, 200);
  revokeKey(api.db, 'test-client');
  const revoked = await api.identify(params);
  assert.equal(revoked.status, 401);
  assert.match(detailOf(revoked), /unknown or revoked/);
  assert.equal(api.identity.calls.length, 1, 'the service is not reached without a valid key');
});

void test('422: missing, repeated and malformed parameters', async (t) => {
  const api = await startApi(t);
  const img = dataUrl(await png());
  const post = (qs: string) => api.req(`/identity?${qs}`, { method: 'POST', headers: { 'x-api-key': api.key } });
  const cases: [string, RegExp][] = [
    ['', /missing query parameter event_id.*event_id=<event>&image_url=/],
    [`event_id=${EVENT}`, /missing query parameter image_url/],
    [`image_url=${encodeURIComponent(img)}`, /missing query parameter event_id/],
    [`event_id=&image_url=${encodeURIComponent(img)}`, /event_id is empty/],
    [`event_id=a&event_id=b&image_url=${encodeURIComponent(img)}`, /event_id is given 2 times; give it exactly once/],
    [`event_id=${'x'.repeat(201)}&image_url=${encodeURIComponent(img)}`, /event_id is malformed/],
    [`event_id=a%00b&image_url=${encodeURIComponent(img)}`, /event_id is malformed/],
    [`event_id=${EVENT}&image_url=not%20a%20url`, /not a valid absolute URL/],
    [`event_id=${EVENT}&image_url=${encodeURIComponent('ftp://example.com/a.png')}`, /scheme "ftp:" is not supported/],
    [`event_id=${EVENT}&image_url=${encodeURIComponent('http://user:pw@example.com/a.png')}`, /must not carry credentials/],
    [`event_id=${EVENT}&image_url=${encodeURIComponent('data:image/png,rawbytes')}`, /data: URL must be base64/],
    [`event_id=${EVENT}&image_url=${encodeURIComponent('data:image/png;base64,@@@@')}`, /not valid base64/],
  ];
  for (const [qs, detail] of cases) {
    const r = await post(qs);
    assert.equal(r.status, 422, `${qs.slice(0, 80)} -> ${r.text}`);
    assert.match(detailOf(r), detail);
  }
  assert.equal(api.identity.calls.length, 0);
});

void test('404: unknown event, and a face that matches no attendee', async (t) => {
  const api = await startApi(t);
  const img = dataUrl(await png());
  const noEvent = await api.identify({ event_id: 'evt_other', image_url: img });
  assert.equal(noEvent.status, 404);
  assert.match(detailOf(noEvent), /event "evt_other" is not known to this gate; check event_id/);
  assert.equal(api.identity.calls.length, 0);
  api.identity.outcome = async () => ({ kind: 'unknown', reason: 'best similarity 0.31 below 0.45' });
  const stranger = await api.identify({ event_id: EVENT, image_url: img });
  assert.equal(stranger.status, 404);
  assert.match(detailOf(stranger), /matches no registered attendee of event "evt_spring_gala" \(best similarity 0\.31 below 0\.45\).*manual check-in/);
});

void test('422 no face or not live; 415 undecodable image; 503 service failure', async (t) => {
  const api = await startApi(t);
  const img = dataUrl(await png());
  api.identity.outcome = async () => ({ kind: 'no_face' });
  const noFace = await api.identify({ event_id: EVENT, image_url: img });
  assert.equal(noFace.status, 422);
  assert.match(detailOf(noFace), /no face was found in the image; send a frame/);
  api.identity.outcome = async () => ({ kind: 'not_live', score: 0.123 });
  const notLive = await api.identify({ event_id: EVENT, image_url: img });
  assert.equal(notLive.status, 422);
  assert.match(detailOf(notLive), /^the face in the image did not pass the liveness check \(score 0\.12\): it looks like a photo or a screen.*manual check-in$/);
  api.identity.outcome = async () => ({ kind: 'bad_image', reason: 'truncated JPEG' });
  const bad = await api.identify({ event_id: EVENT, image_url: img });
  assert.equal(bad.status, 415);
  assert.match(detailOf(bad), /could not be decoded \(truncated JPEG\); send a complete JPEG, PNG or WebP/);
  api.identity.outcome = async () => {
    throw new Error('onnxruntime exploded');
  };
  const failed = await api.identify({ event_id: EVENT, image_url: img });
  assert.equal(failed.status, 503);
  assert.doesNotMatch(detailOf(failed), /onnxruntime/, 'internal errors stay in the log');
  assert.match(detailOf(failed), /recognition failed on the gate; retry/);
});

void test('400: a refused port, a filtered port, a silent server, a name that does not resolve and a host the policy refuses get one answer; the log says which', async (t) => {
  const port = await closedPort();
  const elsewhere = await closedPort();
  const filtered = await filteredPort(t);
  const notFound = await imageServer(t, (_req, res) => res.writeHead(404).end('nope'));
  const stall = await imageServer(t, () => undefined);
  // The system's own resolver: `localhost` from the hosts file, `.invalid` names never exist (RFC 6761).
  const api = await startApi(t, {
    config: { imageAllowList: [`127.0.0.1:${port}`, `127.0.0.1:${filtered.port}`, `127.0.0.1:${notFound.port}`, `127.0.0.1:${stall.port}`], imageFetchTimeoutMs: 400 },
  });
  const logged = (): { detail: string; level: number } => {
    const line = api.logs.filter((l) => l.msg === 'request refused').at(-1);
    return { detail: String(line?.detail), level: Number(line?.level) };
  };
  const cases: [string, string, RegExp, number][] = [
    ['refused port', `http://127.0.0.1:${port}/a.png`, new RegExp(`127\\.0\\.0\\.1:${port} refused the connection \\(ECONNREFUSED`), 30],
    ['filtered port', `http://127.0.0.1:${filtered.port}/a.png`, new RegExp(`no connection to 127\\.0\\.0\\.1:${filtered.port} within 400 ms \\(nothing answered: a filtered port`), 30],
    ['silent server', stall.url(), new RegExp(`connected to 127\\.0\\.0\\.1:${stall.port}, but the image did not arrive within 400 ms`), 30],
    ['name that does not resolve', 'http://no-such-host.invalid/a.png', /no-such-host\.invalid (does not resolve \((ENOTFOUND|EAI_AGAIN|ENODATA)\)|did not resolve within 400 ms)/, 30],
    ['internal name', `http://localhost:${elsewhere}/a.png`, new RegExp(`localhost:${elsewhere} resolves to (127\\.0\\.0\\.1|::1):${elsewhere}, a loopback address`), 40],
  ];
  const answers = new Set<string>();
  for (const [what, url, specific, level] of cases) {
    const r = await api.identify({ event_id: EVENT, image_url: url });
    assert.equal(r.status, 400, `${what}: ${r.text}`);
    const detail = detailOf(r);
    assert.match(detail, UNUSABLE_HOST, what);
    // The host as the client wrote it is echoed; everything after it is the same for all.
    answers.add(detail.replace(/^image_url host \S+ /, ''));
    const line = logged();
    assert.match(line.detail, specific, `${what}: the log says which (${line.detail})`);
    assert.equal(line.level, level, `${what}: logged at ${level === 40 ? 'warn (the policy refused)' : 'info'}`);
  }
  assert.equal(answers.size, 1, `one answer for all: ${[...answers].join(' | ')}`);
  assert.deepStrictEqual(
    api.connects.map((c) => c.port),
    [port, filtered.port, stall.port],
    'no connection for the name that did not resolve nor for the refused host',
  );
  // An upstream error status: a generic answer too, the status in the log.
  const missing = await api.identify({ event_id: EVENT, image_url: notFound.url() });
  assert.equal(missing.status, 400);
  assert.equal(detailOf(missing), 'the image server did not return an image (it answered with an error); check that image_url points at an existing image the gate may read');
  assert.match(logged().detail, new RegExp(`the image server http://127\\.0\\.0\\.1:${notFound.port} answered HTTP 404`));
  assert.ok(!JSON.stringify(api.logs).includes(api.key), 'the API key is never logged');
});

void test('413: image too large, announced, streamed without a length, or as data: URL', async (t) => {
  const big = Buffer.concat([await png(), Buffer.alloc(5000)]);
  const announced = await imageServer(t, (_req, res) => res.writeHead(200, { 'content-length': big.length }).end(big));
  const chunked = await imageServer(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png' });
    // Never ends by itself: the fetcher must stop reading at the cap.
    const timer = setInterval(() => res.write(big), 5);
    res.on('close', () => clearInterval(timer));
  });
  const api = await startApi(t, {
    config: { imageMaxBytes: 2000, imageAllowList: ['127.0.0.1'] },
  });
  for (const url of [announced.url(), chunked.url(), dataUrl(big)]) {
    const r = await api.identify({ event_id: EVENT, image_url: url });
    assert.equal(r.status, 413, r.text);
    assert.match(detailOf(r), /larger than 2000 bytes; send a smaller image/);
  }
});

void test('415: not an image, whatever the Content-Type says', async (t) => {
  const liar = await imageServer(t, (_req, res) => res.writeHead(200, { 'content-type': 'image/jpeg' }).end('<html>login page</html>'));
  const empty = await imageServer(t, (_req, res) => res.writeHead(200, { 'content-type': 'image/png' }).end());
  const api = await startApi(t, { config: { imageAllowList: ['127.0.0.1'] } });
  const html = await api.identify({ event_id: EVENT, image_url: liar.url() });
  assert.equal(html.status, 415);
  assert.match(detailOf(html), /is not a JPEG, PNG or WebP image \(checked by its first bytes/);
  const none = await api.identify({ event_id: EVENT, image_url: empty.url() });
  assert.equal(none.status, 415);
  assert.match(detailOf(none), /is empty; point image_url at a JPEG, PNG or WebP/);
  const text = await api.identify({ event_id: EVENT, image_url: dataUrl(Buffer.from('GIF89a not supported here'), 'image/gif') });
  assert.equal(text.status, 415);
  assert.equal(api.identity.calls.length, 0);
});

void test('429: per-key and per-address token buckets, refilled by the (injected) clock', async (t) => {
  let nowMs = 1_000_000;
  const api = await startApi(t, {
    now: () => nowMs,
    config: { rateLimitPerKeyBurst: 2, rateLimitPerKeyPerSec: 1, rateLimitPerIpBurst: 1000 },
  });
  const params = { event_id: EVENT, image_url: dataUrl(await png()) };
  assert.equal((await api.identify(params)).status, 200);
  assert.equal((await api.identify(params)).status, 200);
  const limited = await api.identify(params);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers['retry-after'], '1');
  assert.match(detailOf(limited), /too many requests from this API key: the limit is 1\/s with bursts of 2; retry after 1 s/);
  nowMs += 1000;
  assert.equal((await api.identify(params)).status, 200, 'one token back after a second');

  const ipLimited = await startApi(t, { now: () => nowMs, config: { rateLimitPerIpBurst: 2, rateLimitPerIpPerSec: 0.5 } });
  // The address bucket counts requests before authentication, so key guessing is throttled too.
  assert.equal((await ipLimited.identify(params, { 'x-api-key': 'sgk_guess1' })).status, 401);
  assert.equal((await ipLimited.identify(params, { 'x-api-key': 'sgk_guess2' })).status, 401);
  const r = await ipLimited.identify(params);
  assert.equal(r.status, 429);
  assert.equal(r.headers['retry-after'], '2');
  assert.match(detailOf(r), /too many requests from this client address/);
});

void test('file: URLs only inside the snapshot directory', async (t) => {
  const api = await startApi(t);
  const snaps = join(api.dir, 'snapshots');
  const outside = join(api.dir, 'outside');
  await mkdir(snaps);
  await mkdir(outside);
  await writeFile(join(snaps, 'frame.png'), await png());
  await writeFile(join(outside, 'secret.png'), await png());
  await symlink(join(outside, 'secret.png'), join(snaps, 'link.png'));
  await symlink(outside, join(snaps, 'dirlink'));
  const withDir = await startApi(t, { config: { snapshotDir: snaps } });
  const file = (p: string) => pathToFileURL(p).href;

  const ok = await withDir.identify({ event_id: EVENT, image_url: file(join(snaps, 'frame.png')) });
  assert.equal(ok.status, 200, ok.text);
  const cases: [string, RegExp][] = [
    [file(join(outside, 'secret.png')), /outside the snapshot directory/],
    [file(join(snaps, 'link.png')), /outside the snapshot directory/],
    [file(join(snaps, 'dirlink', 'secret.png')), /outside the snapshot directory/],
    [`file://${snaps}/../outside/secret.png`, /contains "\.\."/],
    [`file://${snaps}/%2e%2e/outside/secret.png`, /contains "\.\."/],
    [file(join(snaps, 'nope.png')), /snapshot does not exist/],
    [file(snaps), /outside the snapshot directory|not a regular file/],
  ];
  for (const [url, detail] of cases) {
    const r = await withDir.identify({ event_id: EVENT, image_url: url });
    assert.equal(r.status, 400, `${url} -> ${r.text}`);
    assert.match(detailOf(r), detail);
  }
  const remote = await withDir.identify({ event_id: EVENT, image_url: 'file://otherhost/etc/passwd' });
  assert.equal(remote.status, 422);
  const disabled = await api.identify({ event_id: EVENT, image_url: file(join(snaps, 'frame.png')) });
  assert.equal(disabled.status, 400);
  assert.match(detailOf(disabled), /file: image URLs are disabled on this gate/);
  assert.equal(withDir.identity.calls.length, 1);
});

void test('a named pipe in the snapshot directory is refused at once and never blocks the thread pool', async (t) => {
  const snaps = await mkdtemp(join(tmpdir(), 'gate-api-fifo-'));
  await writeFile(join(snaps, 'frame.png'), await png());
  // More pipes than libuv has threads (4): a blocking open of each would stall every fs call.
  const fifos = [0, 1, 2, 3, 4].map((i) => join(snaps, `pipe${i}.png`));
  for (const f of fifos) assert.equal(spawnSync('mkfifo', [f]).status, 0, `mkfifo ${f}`);
  // Should a reader be stuck in open() anyway, a writer end releases it so the
  // test can end; registered before the removal, so it runs first.
  t.after(() => {
    for (const f of fifos) closeSync(openSync(f, fsConstants.O_RDWR | fsConstants.O_NONBLOCK));
  });
  t.after(() => rm(snaps, { recursive: true, force: true }));
  const withDir = await startApi(t, { config: { snapshotDir: snaps } });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('a file: request on a FIFO did not answer within 5 s: the open blocked')), 5000);
  });
  t.after(() => clearTimeout(timer));
  const answers = await Promise.race([
    Promise.all(fifos.map((f) => withDir.identify({ event_id: EVENT, image_url: pathToFileURL(f).href }))),
    deadline,
  ]);
  for (const r of answers) {
    assert.equal(r.status, 400, r.text);
    assert.match(detailOf(r), /not a regular file; point it at a snapshot image/);
  }
  const ok = await Promise.race([withDir.identify({ event_id: EVENT, image_url: pathToFileURL(join(snaps, 'frame.png')).href }), deadline]);
  assert.equal(ok.status, 200, 'the thread pool is free: a real snapshot still loads');
});

void test("fastify's own errors are {\"detail\"} too, never 5xx", async (t) => {
  const api = await startApi(t, { config: { bodyLimitBytes: 1024 } });
  const qs = `/identity?${new URLSearchParams({ event_id: EVENT, image_url: dataUrl(await png()) }).toString()}`;
  const headers = { 'x-api-key': api.key };

  const badJson = await api.req(qs, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"not json' });
  assert.equal(badJson.status, 200, 'the body is ignored, so bad JSON does not matter');
  const binary = await api.req(qs, { method: 'POST', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: Buffer.from([0, 255, 1, 254]) });
  assert.equal(binary.status, 200);

  const tooBig = await api.req(qs, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: 'x'.repeat(5000) });
  assert.equal(tooBig.status, 413);
  assert.match(detailOf(tooBig), /request body is too large; .*send no body/);
  const badType = await api.req(qs, { method: 'POST', headers: { ...headers, 'content-type': '???' }, body: 'x' });
  assert.equal(badType.status, 415);
  assert.match(detailOf(badType), /Content-Type header is malformed/);
  const noRoute = await api.req('/nowhere?key=1');
  assert.equal(noRoute.status, 404);
  assert.match(detailOf(noRoute), /no route GET "\/nowhere"; the endpoints are POST \/identity/);
  const wrongMethod = await api.req(qs, { headers });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.allow, 'POST');
  assert.match(detailOf(wrongMethod), /GET is not supported on \/identity; use POST/);
  const badPath = await api.req('/identity%zz', { method: 'POST', headers });
  assert.ok(badPath.status >= 400 && badPath.status < 500, badPath.text);
  detailOf(badPath);
});
