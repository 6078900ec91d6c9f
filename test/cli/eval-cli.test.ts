// `gate-agent eval verify|identify|pad` run as a technician would, on small sets built
// from ../shared/faces whose figures follow from the data: every same-person pair of
// these photos scores above the default threshold 0.34 and every different-person pair
// below it (docs/vision.md, asserted by test/vision/faces.test.ts), and image_T1 is live,
// image_F1/F2 attacks (MODELS.md). Thresholds are moved with a config file to
// push the figures to values worked out by hand.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHARED_FACES } from '../paths.js';
import { jsonLines, runCli } from './run.js';

let dir: string;
let lfw: string;
const BBT = ['amy', 'howard', 'penny'];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eval-cli-'));
  // One folder per identity: three bbt people with 5 crops, kit_harington with 3 photos,
  // and three people with a single photo (the strangers).
  lfw = join(dir, 'ids');
  const put = async (id: string, src: string, name: string) => {
    await mkdir(join(lfw, id), { recursive: true });
    await copyFile(src, join(lfw, id, name));
  };
  for (const id of BBT) for (let n = 1; n <= 5; n++) await put(id, join(SHARED_FACES, 'bbt', id, `${n}.png`), `${n}.png`);
  for (let n = 1; n <= 3; n++) await put('kit_harington', join(SHARED_FACES, 'people/kit_harington', `${n}.jpg`), `${n}.jpg`);
  await put('leonard', join(SHARED_FACES, 'bbt/leonard/1.png'), '1.png');
  await put('sheldon', join(SHARED_FACES, 'bbt/sheldon/1.png'), '1.png');
  await put('rose_leslie', join(SHARED_FACES, 'people/rose_leslie/1.jpg'), '1.jpg');
  await writeFile(join(dir, 'accept-all.yaml'), 'version: 1\nmatch:\n  threshold: -1\n  margin: 0\nidentification:\n  targetFpir: null\n');
  await writeFile(join(dir, 'reject-all.yaml'), 'version: 1\nmatch:\n  threshold: 0.999\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface SizeJson {
  gallerySize: number;
  mated: number;
  nonMated: number;
  fnir: number;
  fpir: number;
  wrongIdentity: number;
  falsePositives: number;
  misses: Record<string, number>;
  errors: { truth: string | null; matched: string }[];
}
interface IdentifyJson {
  enrolled: number;
  mated: number;
  strangers: number;
  sizes: SizeJson[];
}

test('eval identify: enrolled people found, strangers unknown; figures move with the threshold; the cache gives the same report', async () => {
  const cache = join(dir, 'emb.jsonl');
  const r = await runCli(['eval', 'identify', '--gallery', lfw, '--sizes', '2,all', '--cache', cache, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rep = jsonLines(r.stdout)[0] as unknown as IdentifyJson;
  // 4 identities with 2+ photos, one enrolled photo each: 4+4+4+2 genuine probes, 3 strangers.
  assert.deepEqual([rep.enrolled, rep.mated, rep.strangers], [4, 14, 3]);
  // Size 2 = amy and howard (name order): their 8 probes; the 3 strangers at every size.
  assert.deepEqual(rep.sizes.map((s) => [s.gallerySize, s.mated, s.nonMated]), [[2, 8, 3], [4, 14, 3]]);
  for (const s of rep.sizes) assert.deepEqual([s.fnir, s.fpir, s.wrongIdentity], [0, 0, 0]);
  // 1 header line + 21 images, each embedded once
  assert.equal((await readFile(cache, 'utf8')).trim().split('\n').length, 22);

  // Threshold -1, margin 0: everyone is matched to their nearest identity, which for a
  // genuine probe is themselves (above 0.34 against below it): FNIR 0, every stranger a
  // false positive.
  const all = jsonLines((await runCli(['eval', 'identify', '--gallery', lfw, '--cache', cache, '--json', '--config', join(dir, 'accept-all.yaml')])).stdout)[0] as unknown as IdentifyJson;
  const full = all.sizes.at(-1)!;
  assert.deepEqual([full.fnir, full.fpir, full.falsePositives, full.wrongIdentity], [0, 1, 3, 0]);
  assert.deepEqual(full.errors.map((e) => e.truth), [null, null, null]);
  // Threshold 0.999: nobody is matched.
  const none = jsonLines((await runCli(['eval', 'identify', '--gallery', lfw, '--cache', cache, '--json', '--config', join(dir, 'reject-all.yaml')])).stdout)[0] as unknown as IdentifyJson;
  assert.deepEqual([none.sizes.at(-1)!.fnir, none.sizes.at(-1)!.fpir, none.sizes.at(-1)!.misses.belowThreshold], [1, 0, 14]);

  const again = await runCli(['eval', 'identify', '--gallery', lfw, '--sizes', '2,all', '--cache', cache, '--json']);
  assert.equal(again.stdout, r.stdout, 'a run from the cache reports the same');
  const text = await runCli(['eval', 'identify', '--gallery', lfw, '--cache', cache]);
  assert.match(text.stdout, /margin 0\.05/);
  assert.match(text.stdout, /match\.threshold 0\.34, raised to meet target FPIR 0\.10%/);
  // 4 attendees: the calibrated threshold is below 0.34, so 0.34 applies
  assert.match(text.stdout, /^4 +14 +3 +0\.340 +0\.00% +0\.00% +0 /m);
  assert.match(text.stdout, /^verify \(ticket \+ face, 1:1\) at threshold 0\.340: FNIR 0\.00% \(0 of 14 own claims refused\); wrong person accepted in 0 of 54 impostor claims/m);
});

test('eval identify --passage-frames: walk-ups through the gate stages, genuine let in, the same walk-ups without their person kept out; failures to acquire shown apart', async () => {
  // The set above plus a faceless probe for kit_harington (a failure to acquire).
  const ids = join(dir, 'ids-passages');
  await rm(ids, { recursive: true, force: true });
  await mkdir(ids);
  for (const id of [...BBT, 'kit_harington', 'leonard', 'sheldon', 'rose_leslie']) {
    await mkdir(join(ids, id));
    const src = join(lfw, id);
    for (const f of await readdir(src)) await copyFile(join(src, f), join(ids, id, f));
  }
  await copyFile(join(SHARED_FACES, 'white.png'), join(ids, 'kit_harington', '9.png'));
  const cache = join(dir, 'emb-passages.jsonl');
  type Row = { fusionFrames: number; falseNegatives: number; falsePositives: number; wrongIdentity: number };
  type Size = SizeJson & { falseNegatives: number; failedToAcquire: { mated: number; nonMated: number }; fnirJudged: number };
  type Rep = Omit<IdentifyJson, 'sizes'> & { passages: { passages: number; identities: number; rows: Row[] }; sizes: Size[] };
  const r = await runCli(['eval', 'identify', '--gallery', ids, '--sizes', 'all', '--cache', cache, '--passage-frames', '2', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rep = jsonLines(r.stdout)[0] as unknown as Rep;
  // amy, howard, penny: 4 probes each = 2 passages each; kit_harington: 2.jpg, 3.jpg (9.png left over)
  assert.deepEqual([rep.passages.passages, rep.passages.identities], [7, 4]);
  // Every same-person pair scores above the threshold, every different-person pair below:
  // each walk-up lets its person in, and nobody once its person is left out.
  assert.deepEqual(rep.passages.rows.map((x) => [x.fusionFrames, x.falseNegatives, x.falsePositives, x.wrongIdentity]), [[1, 0, 0, 0], [3, 0, 0, 0]]);
  // The faceless probe is a miss, and the only one: FNIR 1/15 counted, 0 over judged probes.
  const s = rep.sizes.at(-1)!;
  assert.deepEqual([s.mated, s.falseNegatives, s.failedToAcquire.mated, s.fnirJudged], [15, 1, 1, 0]);

  // Everyone matched to their nearest and one vote opens: a walk-up whose person is left
  // out is let in as someone else on its first frame.
  const cfg = join(dir, 'accept-all-one-vote.yaml');
  await writeFile(cfg, 'version: 1\nmatch:\n  threshold: -1\n  margin: 0\nidentification:\n  targetFpir: null\ngate:\n  votesNeeded: 1\n  votesWindow: 1\n');
  const all = jsonLines((await runCli(['eval', 'identify', '--gallery', ids, '--cache', cache, '--passage-frames', '2', '--json', '--config', cfg])).stdout)[0] as unknown as Rep;
  assert.deepEqual(all.passages.rows.map((x) => [x.falseNegatives, x.falsePositives]), [[0, 7], [0, 7]]);
  const text = await runCli(['eval', 'identify', '--gallery', ids, '--cache', cache, '--passage-frames', '2']);
  assert.match(text.stdout, /^passages \(walk-ups of 2 photos through the gate's frame stages, 2 of 3 votes\): 7 from 4 identities/m);
  assert.match(text.stdout, /^3 +0\.00% \(0\) +0\.00% \(0\) +0$/m);
});

test('eval verify: accuracy, TAR at FAR 1e-2 with enough impostor pairs, failing pairs, unreadable and faceless images left out', async () => {
  // Pairs over the 15 bbt crops: 30 same-person pairs (10 per person) and 75 different ones.
  const imgs = BBT.flatMap((id) => [1, 2, 3, 4, 5].map((n) => ({ id, p: `${id}/${n}.png` })));
  const lines = ['a\tb\tsame'];
  for (let x = 0; x < imgs.length; x++) for (let y = x + 1; y < imgs.length; y++) lines.push(`${imgs[x]!.p}\t${imgs[y]!.p}\t${imgs[x]!.id === imgs[y]!.id ? 'yes' : 'no'}`);
  // Brought up to 100 impostor pairs with 25 against one more person, and two bad ones.
  for (let n = 0; n < 25; n++) lines.push(`${imgs[n % 15]!.p}\tsheldon/1.png\tno`);
  lines.push('amy/1.png\tnobody/1.png\tyes', `amy/1.png\t${join(SHARED_FACES, 'white.png')}\tno`);
  const pairs = join(dir, 'pairs.tsv');
  await writeFile(pairs, lines.join('\n') + '\n');
  await mkdir(join(lfw, 'sheldon'), { recursive: true });

  const cache = join(dir, 'pairs-emb.jsonl');
  const r = await runCli(['eval', 'verify', '--pairs', pairs, '--images', lfw, '--json', '--cache', cache]);
  assert.equal(r.code, 0, r.stderr);
  const rep = jsonLines(r.stdout)[0] as {
    pairs: number; genuine: number; impostor: number; skipped: { noFace: number; unreadable: number };
    atThreshold: { accuracy: number }; best: { accuracy: number; threshold: number };
    tarAtFar: { far: number; tar: number | null; reason?: string }[]; failures: unknown[];
  };
  assert.deepEqual([rep.pairs, rep.genuine, rep.impostor], [130, 30, 100]);
  assert.deepEqual(rep.skipped, { noFace: 1, unreadable: 1 });
  assert.equal(rep.atThreshold.accuracy, 1);
  assert.equal(rep.best.accuracy, 1);
  // 100 impostors: FAR 1e-2 lets one through, the threshold is the 2nd highest impostor
  // (below 0.34), every genuine pair is above 0.34. 1e-3 would need 1000 impostor pairs.
  assert.deepEqual(rep.tarAtFar.map((t) => [t.far, t.tar]), [[0.01, 1], [0.001, null]]);
  assert.match(rep.tarAtFar[1]!.reason!, /needs at least 1000 impostor pairs, have 100/);
  assert.deepEqual(rep.failures, []);

  // Threshold -1: every pair accepted, so every impostor pair fails: accuracy 30/130.
  const all = jsonLines((await runCli(['eval', 'verify', '--pairs', pairs, '--images', lfw, '--json', '--cache', cache, '--config', join(dir, 'accept-all.yaml')])).stdout)[0] as typeof rep;
  assert.equal(all.atThreshold.accuracy, Math.round((30 / 130) * 1e6) / 1e6);
  assert.equal(all.failures.length, 100);
  // With the pairs separated, the best threshold is the middle of the gap: above every
  // impostor score (all listed as failures here).
  const maxImpostor = Math.max(...(all.failures as { similarity: number }[]).map((f) => f.similarity));
  assert.ok(rep.best.threshold > maxImpostor && maxImpostor < 0.34, `${rep.best.threshold} vs ${maxImpostor}`);
  const text = await runCli(['eval', 'verify', '--pairs', pairs, '--images', lfw, '--cache', cache, '--show', '3', '--config', join(dir, 'accept-all.yaml')]);
  assert.match(text.stdout, /failing pairs at -1: 100 \(the 3 furthest/);
  assert.equal(text.stdout.split('\n').filter((l) => l.startsWith('  different')).length, 3);
});

test('eval pad: attacks caught, a live face passed; a track fuses its frames; videos through ffmpeg', async () => {
  const spoof = join(SHARED_FACES, 'spoof');
  // A bona fide track of three frames: live, live, attack-looking (mean about 0.67, live),
  // and a blank frame with no face.
  const mixed = join(dir, 'mixed');
  await mkdir(mixed);
  await copyFile(join(spoof, 'image_T1.jpg'), join(mixed, '1.jpg'));
  await copyFile(join(spoof, 'image_T1.jpg'), join(mixed, '2.jpg'));
  await copyFile(join(spoof, 'image_F2.jpg'), join(mixed, '3.jpg'));
  await copyFile(join(SHARED_FACES, 'white.png'), join(mixed, '4.png'));
  const r = await runCli([
    'eval', 'pad', '--json', '--video-fps', '1',
    '--live', `cam=${mixed}`, '--live', join(SHARED_FACES, 'pad/zalo/live-2.mp4'),
    '--attack', `photo=${join(spoof, 'image_F1.jpg')}`, '--attack', `photo=${join(spoof, 'image_F2.jpg')}`,
    // The gate's liveness.threshold is what eval pad judges by: set here so the figures below follow by hand.
  ], { GATE_AGENT__liveness__threshold: '0.5' });
  assert.equal(r.code, 0, r.stderr);
  const rep = jsonLines(r.stdout)[0] as {
    threshold: number;
    perFrame: { apcer: { source: string; presentations: number; apcer: number }[]; bpcer: number; bonaFide: number };
    perTrack: { apcerMax: number; bpcer: number };
    sources: { source: string; frames: number; noFace: number; frameErrorRate: number; trackErrorRate: number }[];
    tracks: { path: string; frames: number; scored: number; live: number }[];
  };
  assert.equal(rep.threshold, 0.5);
  assert.deepEqual(rep.perFrame.apcer.map((a) => [a.source, a.presentations, a.apcer]), [['photo', 2, 0]]);
  const cam = rep.sources.find((s) => s.source === 'cam')!;
  assert.deepEqual([cam.frames, cam.noFace], [4, 1]);
  // per frame, 1 of cam's 3 scored frames looks like an attack; fused, the track is live
  assert.equal(cam.frameErrorRate, Math.round((1 / 3) * 1e6) / 1e6);
  assert.equal(cam.trackErrorRate, 0);
  assert.equal(rep.perTrack.apcerMax, 0);
  const video = rep.tracks.find((t) => t.path.endsWith('live-2.mp4'))!;
  assert.ok(video.frames >= 4 && video.scored >= 1, JSON.stringify(video));
});

test('bad input: one clear line (JSON with --json), exit 1; over-long command lines refused before onnxruntime', async () => {
  const missing = await runCli(['eval', 'identify', '--gallery', join(dir, 'nowhere')]);
  assert.equal(missing.code, 1);
  // The line naming the config in use, then the one error line.
  assert.match(missing.stderr, /^gate-agent: no config file .*\ngate-agent: folder .*nowhere does not exist; check the path\n$/);
  const emptyList = join(dir, 'empty.txt');
  await writeFile(emptyList, '# nothing\n');
  const j = await runCli(['eval', 'identify', '--list', emptyList, '--json']);
  assert.equal(j.code, 1);
  assert.deepEqual(jsonLines(j.stdout)[0], { error: { code: 'empty', message: `list file ${emptyList} holds no path; put one image path per line` } });
  const noAttack = await runCli(['eval', 'pad', '--live', join(SHARED_FACES, 'spoof/image_T1.jpg')]);
  assert.match(noAttack.stderr, /pass at least one --live and one --attack/);

  // ~30 KB of paths: onnxruntime would die with SIGSEGV creating its first session.
  const many = Array.from({ length: 600 }, (_, n) => join(dir, `photo-${String(n).padStart(4, '0')}-with-a-long-name.jpg`));
  for (const cmd of [['detect'], ['embed'], ['enroll', '--event', 'e', '--user', 'u']]) {
    const long = await runCli([...cmd, ...many]);
    assert.equal(long.code, 1, `${cmd[0]}: ${long.stderr}`);
    assert.match(long.stderr, /^gate-agent: command line is \d+ bytes, over the 24000 .*pass a folder or --list <file>/);
  }
  const longJson = await runCli(['eval', 'verify', '--pairs', join(dir, 'pairs.tsv'), '--json', '--images', many.join(',')]);
  assert.equal((jsonLines(longJson.stdout)[0] as { error: { code: string } }).error.code, 'command_line_too_long');
});

test('detect takes folders and --list files', async () => {
  const list = join(dir, 'list.txt');
  await writeFile(list, '# two photos\nids/amy/1.png\nids/kit_harington/1.jpg\n');
  const r = await runCli(['detect', '--json', join(lfw, 'howard'), '--list', list]);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout) as { image: string; faces: unknown[] }[];
  assert.equal(lines.length, 7);
  assert.equal(lines[0]!.image, join(lfw, 'howard', '1.png'));
  assert.equal(lines[6]!.image, join(dir, 'ids/kit_harington/1.jpg'));
  for (const l of lines) assert.equal(l.faces.length, 1, l.image);
});
