// `attendees import` through the real CLI with real photos: a German Excel CSV (`;`),
// --dry-run, a second import that changes nothing, --replace, duplicate ids, full paths.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHARED_FACES } from '../paths.js';
import { runCli } from './run.js';

let dir: string;
let photos: string;
let env: Record<string, string>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roster-'));
  photos = join(dir, 'fotos');
  await mkdir(photos);
  for (const [to, from] of [['kit1.jpg', 'people/kit_harington/1.jpg'], ['kit2.jpg', 'people/kit_harington/2.jpg'], ['rose1.jpg', 'people/rose_leslie/1.jpg'], ['biden1.jpg', 'people/biden/1.jpg'], ['biden2.jpg', 'people/biden/2.jpg']]) {
    await copyFile(join(SHARED_FACES, from!), join(photos, to!));
  }
  env = { GATE_AGENT_DATA_DIR: join(dir, 'data') };
  assert.equal((await runCli(['events', 'add', 'messe'], env)).code, 0);
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

const list = async (): Promise<[string, number][]> =>
  (JSON.parse((await runCli(['attendees', 'list', '--event', 'messe', '--json'], env)).stdout) as { userId: string; embeddings: number }[]).map((r) => [r.userId, r.embeddings]);

interface Report { dryRun: boolean; imported: number; unchanged: number; failed: number; photosEnrolled: number; photosSkipped: number; duplicateUserIds: string[]; rows: { row: number; userId: string; ok: boolean; problems?: string[] }[] }
const run = async (args: string[]): Promise<{ code: number | null; rep: Report }> => {
  const r = await runCli(['attendees', 'import', '--event', 'messe', ...args, '--json'], env);
  return { code: r.code, rep: JSON.parse(r.stdout) as Report };
};

test('a ";" CSV from German Excel imports; --dry-run writes nothing; a second import changes nothing; --replace re-enrolls', async () => {
  const roster = join(dir, 'teilnehmer.csv');
  // Excel (de-DE) writes ";" between fields, and a BOM; several photos in a field are split by "|".
  await writeFile(roster, '\uFEFFuserId;name;email;phone;photos\r\nk1;Kit Harington;k@example.org;;fotos/kit1.jpg|fotos/kit2.jpg\r\nr1;Rose Leslie;;;fotos/rose1.jpg\r\n');
  const dry = await run(['--dry-run', roster]);
  assert.equal(dry.code, 0);
  assert.equal(dry.rep.dryRun, true);
  assert.equal(dry.rep.photosEnrolled, 3, 'the photos were checked: 3 would be enrolled');
  assert.deepEqual(await list(), [], 'a dry run writes nothing');
  const text = await runCli(['attendees', 'import', '--event', 'messe', '--dry-run', roster], env);
  assert.match(text.stdout, /^dry run, nothing written: 2 attendee\(s\) would enroll/m);

  const first = await run([roster]);
  assert.equal(first.code, 0);
  assert.deepEqual([first.rep.imported, first.rep.photosEnrolled, first.rep.photosSkipped], [2, 3, 0]);
  assert.deepEqual(await list(), [['k1', 2], ['r1', 1]]);

  const second = await run([roster]);
  assert.equal(second.code, 0);
  assert.deepEqual([second.rep.imported, second.rep.unchanged, second.rep.photosEnrolled, second.rep.photosSkipped], [0, 2, 0, 3]);
  assert.deepEqual(await list(), [['k1', 2], ['r1', 1]], 'not enrolled again');

  const replaced = await run(['--replace', roster]);
  assert.deepEqual([replaced.rep.imported, replaced.rep.photosEnrolled], [2, 3]);
  assert.deepEqual(await list(), [['k1', 2], ['r1', 1]], 'replaced, not added');

  // The single-attendee command skips an enrolled photo too.
  const e = await runCli(['enroll', '--event', 'messe', '--user', 'r1', join(photos, 'rose1.jpg')], env);
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /r1 is already enrolled in messe from these photo\(s\); nothing changed/);
  assert.deepEqual(await list(), [['k1', 2], ['r1', 1]]);
});

test('duplicate userIds are reported, not merged; a missing photo names the full path and the folder searched', async () => {
  const roster = join(dir, 'dups.csv');
  await writeFile(roster, ['userId,name,email,phone,photos', 'b1,Joe,,,biden1.jpg', 'k9,Kit,,,nothere.jpg', 'b1,Joe B.,,,biden2.jpg', ''].join('\n'));
  const r = await run(['--photos', photos, roster]);
  assert.equal(r.code, 1);
  assert.deepEqual(r.rep.duplicateUserIds, ['b1']);
  const byRow = Object.fromEntries(r.rep.rows.map((x) => [x.row, x]));
  for (const row of [1, 3]) assert.match(byRow[row]!.problems![0]!, /userId b1 is on rows 1, 3; nothing was enrolled for it/);
  assert.match(byRow[2]!.problems![0]!, new RegExp(`${join(photos, 'nothere.jpg')}: .*\\(photo "nothere\\.jpg" looked for in ${photos}; --photos <dir> sets that folder\\)`));
  assert.ok(!(await list()).some(([u]) => u === 'b1' || u === 'k9'));
});

test('a roster without a userId column names the columns it found', async () => {
  const roster = join(dir, 'bad.csv');
  await writeFile(roster, 'Benutzer;Name\nb1;Joe\n');
  const r = await runCli(['attendees', 'import', '--event', 'messe', roster], env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the header must name a userId column; it names: Benutzer, Name\. Use a header like userId,name,email,phone,photos/);
});
