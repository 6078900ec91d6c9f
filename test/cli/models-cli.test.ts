import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createReadStream } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yazl from 'yazl';
import { SHARED_FACES, SHARED_MODELS } from '../paths.js';
import { jsonLines, runCli } from './run.js';

let dir: string;
let server: Server;
let base: string;
const DEV_FILES = ['scrfd_500m_kps.onnx', 'scrfd_2.5g_kps.onnx', 'arcface_mbf_w600k_int8.onnx', 'minifasnet_v2_2.7.onnx', 'minifasnet_v1se_4.0.onnx'];

async function makeZip(path: string, files: Record<string, string>): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const [name, src] of Object.entries(files)) zip.addFile(src, name);
  zip.end();
  await new Promise<void>((res, rej) => zip.outputStream.pipe(createWriteStream(path)).on('close', res).on('error', rej));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'models-'));
  // A zip laid out like the upstream packs: files inside a folder named after the pack.
  await makeZip(join(dir, 'dev.zip'), Object.fromEntries(DEV_FILES.map((f) => [`securegate_dev/${f}`, join(SHARED_MODELS, f)])));
  await writeFile(join(dir, 'junk.onnx'), 'junk');
  await makeZip(join(dir, 'bad.zip'), { ...Object.fromEntries(DEV_FILES.map((f) => [f, join(SHARED_MODELS, f)])), 'scrfd_500m_kps.onnx': join(dir, 'junk.onnx') });
  server = createServer((req, res) => {
    if (req.url === '/moved') { res.writeHead(302, { location: '/dev.zip' }); return res.end(); }
    const f = req.url === '/dev.zip' ? 'dev.zip' : req.url === '/bad.zip' ? 'bad.zip' : null;
    if (!f) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { 'content-type': 'application/zip' });
    createReadStream(join(dir, f)).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

test('models verify checks hashes and runs each present model once', async () => {
  const r = await runCli(['models', 'verify', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { models } = jsonLines(r.stdout)[0] as { models: { id: string; status: string; inferenceMs?: number }[] };
  const byId = Object.fromEntries(models.map((m) => [m.id, m]));
  for (const id of ['scrfd_500m_kps', 'scrfd_2.5g_kps', 'arcface_mbf_w600k_int8', 'minifasnet_v2_2.7', 'minifasnet_v1se_4.0']) {
    assert.equal(byId[id]!.status, 'ok', id);
    assert.ok(byId[id]!.inferenceMs! > 0);
  }
  assert.equal(byId['arcface_mbf_w600k']!.status, 'missing');
});

test('models verify fails on a damaged configured model', async () => {
  const bad = join(dir, 'damaged');
  await mkdir(bad);
  for (const f of DEV_FILES) await copyFile(join(SHARED_MODELS, f), join(bad, f));
  await writeFile(join(bad, 'arcface_mbf_w600k_int8.onnx'), 'damaged');
  const r = await runCli(['models', 'verify', '--models-dir', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /hash_mismatch\s+arcface_mbf_w600k_int8 \[configured\]/);
  assert.match(r.stderr, /arcface_mbf_w600k_int8 hash_mismatch/);
});

test('models pull installs a pack from a folder, and the result verifies', async () => {
  const target = join(dir, 'from-dir');
  const r = await runCli(['models', 'pull', '--pack', 'securegate_dev', '--from', SHARED_MODELS, '--models-dir', target, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((await readdir(target)).sort(), [...DEV_FILES].sort());
  const v = await runCli(['models', 'verify', '--models-dir', target]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});

test('models pull downloads a zip over HTTP (following a redirect) and installs it', async () => {
  const target = join(dir, 'from-http');
  const r = await runCli(['models', 'pull', '--pack', 'securegate_dev', '--from', `${base}/moved`, '--models-dir', target]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /scrfd_500m_kps: scrfd_500m_kps\.onnx sha256 5e4447f5\S+ \(verified\)/);
  assert.match(r.stdout, /non-commercial/);
  assert.equal((await readdir(target)).length, DEV_FILES.length);
});

test('models pull with a wrong file installs nothing and says which file', async () => {
  const target = join(dir, 'bad');
  const r = await runCli(['models', 'pull', '--pack', 'securegate_dev', '--from', `${base}/bad.zip`, '--models-dir', target]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /scrfd_500m_kps\.onnx from .* has SHA-256 [0-9a-f]{64}, expected 5e4447f5.*nothing was installed/);
  assert.equal(existsSync(target), false);
  const r404 = await runCli(['models', 'pull', '--pack', 'securegate_dev', '--from', `${base}/nothing.zip`, '--models-dir', target]);
  assert.match(r404.stderr, /HTTP 404/);
  const unknown = await runCli(['models', 'pull', '--pack', 'nope', '--from', SHARED_MODELS, '--models-dir', target]);
  assert.match(unknown.stderr, /unknown pack "nope"; known packs: buffalo_sc, securegate_dev/);
});

test('models pull with no --pack installs what the config needs; a second pull changes nothing', async () => {
  const target = join(dir, 'auto');
  const r = await runCli(['models', 'pull', '--from', SHARED_MODELS, '--models-dir', target, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const first = JSON.parse(r.stdout) as { pack: string; changed: boolean; installed: { id: string; changed: boolean }[] };
  // The default config uses the INT8 embedder and liveness: only securegate_dev holds them.
  assert.equal(first.pack, 'securegate_dev');
  assert.equal(first.changed, true);
  const mtimes = async () => Promise.all(DEV_FILES.map(async (f) => (await stat(join(target, f))).mtimeMs));
  const before = await mtimes();
  const again = JSON.parse((await runCli(['models', 'pull', '--from', SHARED_MODELS, '--models-dir', target, '--json'])).stdout) as typeof first;
  assert.equal(again.changed, false);
  assert.ok(again.installed.every((m) => !m.changed));
  assert.deepEqual(await mtimes(), before, 'no file rewritten');
  // Without --from the pack has no download address: the message says what to give.
  const noUrl = await runCli(['models', 'pull', '--models-dir', join(dir, 'nowhere')]);
  assert.equal(noUrl.code, 1);
  assert.match(noUrl.stderr, /pack "securegate_dev" has no download address; copy it to this device .* --from <folder\|zip\|URL>/);
});

test('a missing model prints the command that fixes it for the config in use, and that command works', async () => {
  const empty = join(dir, 'empty-models');
  const cfg = join(dir, 'gate.yaml');
  await writeFile(cfg, `version: 1\nmodels:\n  dir: ${empty}\n`);
  const env = { GATE_AGENT_MODELS_DIR: undefined };
  const r = await runCli(['detect', '--config', cfg, join(SHARED_FACES, 'people/obama/1.jpg')], env);
  assert.equal(r.code, 1);
  const cmd = /install the models this config needs with `([^`]+)`/.exec(r.stderr)?.[1];
  assert.ok(cmd, r.stderr);
  assert.match(cmd, new RegExp(`^gate-agent models pull --config ${cfg} --from <folder, zip or URL holding the securegate_dev pack: `));
  // The technician fills in the folder and runs exactly that.
  const args = cmd.replace(/<[^>]+>/, SHARED_MODELS).split(' ').slice(1);
  const pulled = await runCli(args, env);
  assert.equal(pulled.code, 0, pulled.stderr);
  const ok = await runCli(['detect', '--config', cfg, '--json', join(SHARED_FACES, 'people/obama/1.jpg')], env);
  assert.equal(ok.code, 0, ok.stderr);
});

test('a config whose models are all in the downloadable pack gets a plain `models pull`', async () => {
  const cfg = join(dir, 'float.yaml');
  await writeFile(cfg, `version: 1\nmodels:\n  dir: ${join(dir, 'float-models')}\n  embedder: arcface_mbf_w600k\nliveness:\n  mode: "off"\n`);
  const r = await runCli(['models', 'verify', '--config', cfg, '--json'], { GATE_AGENT_MODELS_DIR: undefined });
  assert.equal(r.code, 1);
  const { models } = JSON.parse(r.stdout) as { models: { id: string; detail?: string }[] };
  assert.equal(models.find((m) => m.id === 'arcface_mbf_w600k')!.detail, `not installed; \`gate-agent models pull --config ${cfg}\` installs it`);
  assert.equal(models.find((m) => m.id === 'minifasnet_v2_2.7')!.detail, 'not installed (this config does not use it)');
  const doc = await runCli(['doctor', '--config', cfg, '--json'], { GATE_AGENT_MODELS_DIR: undefined });
  const check = (JSON.parse(doc.stdout) as { checks: { name: string; detail: string }[] }).checks.find((c) => c.name === 'models')!;
  assert.match(check.detail, new RegExp(`install them with \`gate-agent models pull --config ${cfg}\`$`));
});
