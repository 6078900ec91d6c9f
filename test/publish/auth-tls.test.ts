// Credentials and TLS against a real mosquitto, with a CA and certificate made
// by openssl for this test.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { MqttPublisher } from '../../src/publish/publisher.js';
import { Outbox } from '../../src/publish/outbox.js';
import type { PublishOptions } from '../../src/publish/options.js';
import { Mosquitto } from './mosquitto.js';
import { Recorder, captureLogger, decision, identity, tempDb, testOptions, waitFor, defer } from './helpers.js';

const BASE = 'securegate/s1/g1';

function publisher(t: TestContext, opts: PublishOptions) {
  const f = tempDb();
  defer(t, () => f.cleanup());
  const outbox = new Outbox(f.db, { identity, maxMessages: 100 });
  const { log, lines } = captureLogger();
  const pub = new MqttPublisher(opts, { outbox, identity, log });
  defer(t, () => pub.stop());
  return { pub, outbox, lines };
}

void test('wrong password: clear error in log and status, retries with backoff, no crash; right password connects', async (t) => {
  const broker = await Mosquitto.launch({ users: { gate: 'Corr3ct-horse' } });
  defer(t, () => broker.dispose());
  const secret = 'Wr0ng-p4ssw0rd-xyz';
  const bad = publisher(t, testOptions(broker.url, { username: 'gate', password: secret, reconnectMinMs: 50, reconnectMaxMs: 200 }));
  bad.pub.start();
  await waitFor('three failed attempts', () => bad.pub.status().failedAttempts >= 3);
  const st = bad.pub.status();
  assert.notEqual(st.state, 'online');
  assert.match(st.lastError ?? '', /refused the connection: not authorized \(check mqtt\.username\/password/);
  const errors = bad.lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
  assert.ok(errors.some((l) => l.includes('not authorized')), 'an error line names the cause');
  const retries = bad.lines.map((l) => JSON.parse(l) as { msg: string; retryInMs?: number }).filter((l) => l.msg === 'will reconnect');
  assert.deepEqual(retries.slice(0, 3).map((r) => r.retryInMs !== undefined && r.retryInMs > 0), [true, true, true]);
  assert.ok((retries[2]?.retryInMs ?? 0) > (retries[0]?.retryInMs ?? 0), 'the delay grows');
  assert.ok(!bad.lines.some((l) => l.includes(secret)), 'the password never reaches the log');
  assert.ok(!JSON.stringify(st).includes(secret));
  await bad.pub.stop();

  const good = publisher(t, testOptions(broker.url, { username: 'gate', password: 'Corr3ct-horse' }));
  good.pub.start();
  await waitFor('online with the right password', () => good.pub.status().state === 'online');
});

function makePki(dir: string): { ca: string; cert: string; key: string; clientCert: string; clientKey: string } {
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ossl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=securegate-test-ca');
  ossl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ossl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext');
  ossl('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=gate-g1');
  ossl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2');
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), clientCert: join(dir, 'client.crt'), clientKey: join(dir, 'client.key') };
}

void test('TLS: mqtts with the test CA pinned publishes; without it the handshake error is reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-pki-'));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  const pki = makePki(dir);
  const broker = await Mosquitto.launch({ tls: { cafile: pki.ca, certfile: pki.cert, keyfile: pki.key } });
  defer(t, () => broker.dispose());
  const sub = await Recorder.connect(broker.tlsUrl, [`${BASE}/sessions`], { ca: [readFileSync(pki.ca)] });
  defer(t, () => sub.close());

  const ok = publisher(t, testOptions(broker.tlsUrl, { caFile: pki.ca }));
  ok.outbox.recordDecision(decision(1), null);
  ok.pub.start();
  await waitFor('message over TLS', () => sub.on(`${BASE}/sessions`).length === 1);
  assert.equal(ok.pub.status().state, 'online');

  const untrusted = publisher(t, testOptions(broker.tlsUrl, { caFile: null, clientId: 'gate-untrusted' }));
  untrusted.pub.start();
  await waitFor('a failed attempt', () => untrusted.pub.status().failedAttempts >= 1);
  assert.notEqual(untrusted.pub.status().state, 'online');
  assert.match(untrusted.pub.status().lastError ?? '', /TLS handshake failed: .*(self[- ]signed|certificate)/i);
});

void test('TLS client certificate: a broker that requires one accepts certFile/keyFile and refuses a gate without', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-pki-'));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  const pki = makePki(dir);
  const broker = await Mosquitto.launch({ tls: { cafile: pki.ca, certfile: pki.cert, keyfile: pki.key, requireCertificate: true } });
  defer(t, () => broker.dispose());
  const withCert = publisher(t, testOptions(broker.tlsUrl, { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey }));
  withCert.pub.start();
  await waitFor('online with a client certificate', () => withCert.pub.status().state === 'online');
  const without = publisher(t, testOptions(broker.tlsUrl, { caFile: pki.ca, clientId: 'gate-nocert' }));
  without.pub.start();
  await waitFor('a failed attempt', () => without.pub.status().failedAttempts >= 1);
  assert.notEqual(without.pub.status().state, 'online');
  assert.notEqual(without.pub.status().lastError, null);
});

void test('a TLS file that cannot be read is a config error naming the key and path', (t) => {
  const p = publisher(t, testOptions('mqtts://127.0.0.1:1', { caFile: '/nonexistent/ca.crt' }));
  assert.throws(() => p.pub.start(), /mqtt\.caFile: \/nonexistent\/ca\.crt: cannot read/);
});
