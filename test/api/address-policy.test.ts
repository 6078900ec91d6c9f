// The address policy in isolation: every range, the IPv6 forms that embed an
// IPv4 address, and allow-list matching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowListed, classifyAddress, parseAllowList, parseIp } from '../../src/api/address-policy.js';
import { sniffImage } from '../../src/api/image-sniff.js';
import { TokenBuckets } from '../../src/api/rate-limit.js';

void test('classifyAddress: IPv4 ranges', () => {
  const table: [string, string][] = [
    ['8.8.8.8', 'public'],
    ['93.184.216.34', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['100.128.0.1', 'public'],
    ['169.254.1.1', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.0.192', 'reserved'],
    ['198.18.0.1', 'reserved'],
  ];
  for (const [ip, cls] of table) assert.equal(classifyAddress(ip), cls, ip);
});

void test('classifyAddress: IPv6 ranges and IPv4-embedding forms', () => {
  const table: [string, string][] = [
    ['2606:4700::1111', 'public'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fd00:ec2::254', 'metadata'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['::ffff:8.8.8.8', 'public'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::8.8.8.8', 'public'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:0808:0808::1', 'public'],
    // IPv4-translated (::ffff:0:0/96), local-use NAT64 (64:ff9b:1::/48), Teredo (2001::/32).
    ['::ffff:0:127.0.0.1', 'loopback'],
    ['::ffff:0:10.0.0.1', 'private'],
    ['::ffff:0:8.8.8.8', 'public'],
    ['64:ff9b:1::a00:1', 'private'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'],
  ];
  for (const [ip, cls] of table) assert.equal(classifyAddress(ip), cls, ip);
  assert.equal(classifyAddress('example.com'), null);
  assert.equal(classifyAddress('1.2.3'), null);
});

void test('parseIp expands :: and trailing dotted quads', () => {
  assert.deepStrictEqual(Array.from(parseIp('1:2::8') ?? []), [0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8]);
  assert.deepStrictEqual(Array.from(parseIp('::ffff:1.2.3.4') ?? []).slice(10), [0xff, 0xff, 1, 2, 3, 4]);
  assert.deepStrictEqual(Array.from(parseIp('10.20.30.40') ?? []), [10, 20, 30, 40]);
});

void test('parseAllowList accepts names, addresses, CIDRs and ports, and names every bad entry', () => {
  const { entries, errors } = parseAllowList(['Camera.LAN', 'cam:8080', '10.1.2.3', '10.1.2.0/24', '[fd00::5]:8443', 'fd00::/8', '10.0.0.0/33', '', 'a b', 'h:0']);
  assert.equal(entries.length, 6);
  assert.equal(entries[0]?.host, 'camera.lan');
  assert.equal(entries[1]?.port, 8080);
  assert.equal(entries[4]?.port, 8443);
  assert.equal(errors.length, 4);
  assert.match(errors.join('\n'), /"10\.0\.0\.0\/33": not a valid CIDR/);
  assert.match(errors.join('\n'), /"h:0": port out of range/);
});

void test('allowListed matches by name or by resolved address, and honours ports', () => {
  const { entries } = parseAllowList(['camera.lan', '10.1.2.0/24:8080', '[fd00::5]']);
  assert.ok(allowListed(entries, 'CAMERA.lan', '10.9.9.9', 80));
  assert.ok(allowListed(entries, 'nvr.lan', '10.1.2.77', 8080));
  assert.ok(!allowListed(entries, 'nvr.lan', '10.1.2.77', 80), 'wrong port');
  assert.ok(!allowListed(entries, 'nvr.lan', '10.1.3.1', 8080), 'outside the block');
  assert.ok(allowListed(entries, 'nvr.lan', '::ffff:10.1.2.1', 8080), 'IPv4-mapped form of an allowed address');
  assert.ok(allowListed(entries, '[fd00::5]', 'fd00::5', 443));
  assert.ok(!allowListed(entries, 'x', 'fd00::6', 443));
});

void test('sniffImage knows JPEG, PNG and WebP by their magic bytes only', () => {
  assert.equal(sniffImage(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'jpeg');
  assert.equal(sniffImage(Buffer.from('89504e470d0a1a0a0000', 'hex')), 'png');
  assert.equal(sniffImage(Buffer.from('RIFF\x00\x00\x00\x00WEBPVP8 ', 'latin1')), 'webp');
  assert.equal(sniffImage(Buffer.from('RIFF\x00\x00\x00\x00WAVEfmt ', 'latin1')), null);
  assert.equal(sniffImage(Buffer.from('GIF89a')), null);
  assert.equal(sniffImage(Buffer.alloc(0)), null);
});

void test('TokenBuckets: burst, refill by the injected clock, and bounded memory', () => {
  let now = 0;
  const b = new TokenBuckets({ perSec: 2, burst: 3 }, () => now, 4);
  assert.deepStrictEqual([b.take('a'), b.take('a'), b.take('a')], [0, 0, 0]);
  assert.equal(b.take('a'), 0.5);
  now += 500;
  assert.equal(b.take('a'), 0);
  assert.ok(b.take('a') > 0);
  for (let i = 0; i < 100; i++) b.take(`client-${i}`);
  assert.ok(b.size <= 4, `size ${b.size}`);
});
