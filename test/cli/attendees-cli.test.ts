// Events, enrollment, import, identify and the admin commands through the real CLI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { BIN, SHARED_FACES, SHARED_MODELS } from '../paths.js';
import { jsonLines, runCli } from './run.js';
import { own } from '../proc.js';

let dir: string;
let env: Record<string, string>;
const face = (p: string) => join(SHARED_FACES, p);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'att-'));
  env = { GATE_AGENT_DATA_DIR: join(dir, 'data') };
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

// Event windows are stated relative to now: the suite must pass on any date.
const HOUR_MS = 3600_000;
const iso = (ms: number): string => new Date(ms).toISOString();

test('events add/list, enroll, identify, attendees list/show/remove/purge', async () => {
  const endsAt = Date.now() + 8 * HOUR_MS;
  assert.equal((await runCli(['events', 'add', 'gala', '--name', 'Gala', '--starts', iso(Date.now() - HOUR_MS), '--ends', iso(endsAt)], env)).code, 0);
  const bad = await runCli(['events', 'add', 'x', '--ends', 'tomorrow'], env);
  assert.match(bad.stderr, /--ends "tomorrow" is not a date; use ISO 8601/);
  const e = await runCli(['enroll', '--event', 'gala', '--user', 'u-obama', '--name', 'Barack', '--email', 'b@example.org', face('people/obama/1.jpg'), face('people/obama/3.jpg')], env);
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /enrolled u-obama in gala with 2 photo\(s\)/);
  const id = jsonLines((await runCli(['identify', '--event', 'gala', '--json', face('people/obama/2.jpg')], env)).stdout)[0] as Record<string, unknown>;
  assert.equal(id.decision, 'match');
  assert.equal(id.faces, 1);
  assert.deepEqual(Object.keys(id.match as object), ['userId', 'name', 'similarity']);
  assert.equal((id.match as { name: string }).name, 'Barack');
  const stranger = jsonLines((await runCli(['identify', '--event', 'gala', '--json', face('people/biden/1.jpg')], env)).stdout)[0]!;
  assert.equal(stranger.decision, 'unknown');
  assert.equal(stranger.match, null);
  const none = jsonLines((await runCli(['identify', '--event', 'gala', '--json', face('white.png')], env)).stdout)[0]!;
  assert.equal(none.decision, 'no_face');
  const list = JSON.parse((await runCli(['attendees', 'list', '--event', 'gala', '--json'], env)).stdout) as { userId: string; embeddings: number }[];
  assert.deepEqual(list.map((r) => [r.userId, r.embeddings]), [['u-obama', 2]]);
  const show = JSON.parse((await runCli(['attendees', 'show', '--event', 'gala', '--user', 'u-obama', '--json'], env)).stdout) as { userInfo: { email: string } };
  assert.equal(show.userInfo.email, 'b@example.org');
  const ev = JSON.parse((await runCli(['events', 'list', '--json'], env)).stdout) as { id: string; attendees: number; purgeAfter: number }[];
  assert.equal(ev[0]!.attendees, 1);
  assert.equal(ev[0]!.purgeAfter, Date.parse(iso(endsAt)) + 24 * HOUR_MS, 'purged a grace period after the end');
  assert.equal((await runCli(['attendees', 'remove', '--event', 'gala', '--user', 'u-obama'], env)).code, 0);
  assert.match((await runCli(['attendees', 'remove', '--event', 'gala', '--user', 'u-obama'], env)).stderr, /u-obama is not enrolled in gala/);
  await runCli(['enroll', '--event', 'gala', '--user', 'u-obama', face('people/obama/1.jpg')], env);
  assert.match((await runCli(['attendees', 'purge', '--event', 'gala'], env)).stdout, /deleted 1 attendee\(s\) of gala/);
  assert.match((await runCli(['identify', '--event', 'nope', face('white.png')], env)).stderr, /event "nope" is not in the local cache/);
});

test('an ended event: reading keeps its attendees, enrolling is refused, purge --expired deletes them', async () => {
  const denv = { GATE_AGENT_DATA_DIR: join(dir, 'ended') };
  // Enrolled while the event runs; then its end is moved into the past, beyond the purge grace.
  assert.equal((await runCli(['events', 'add', 'past', '--ends', iso(Date.now() + HOUR_MS)], denv)).code, 0);
  assert.equal((await runCli(['enroll', '--event', 'past', '--user', 'u1', face('people/obama/1.jpg')], denv)).code, 0);
  assert.equal((await runCli(['events', 'add', 'past', '--ends', iso(Date.now() - 48 * HOUR_MS)], denv)).code, 0);
  const events = async () => JSON.parse((await runCli(['events', 'list', '--json'], denv)).stdout) as { id: string; attendees: number }[];
  // Read-only commands never delete: the attendee is still there after several of them.
  assert.deepEqual((await events()).map((e) => [e.id, e.attendees]), [['past', 1]]);
  assert.deepEqual((await events()).map((e) => [e.id, e.attendees]), [['past', 1]]);
  const late = await runCli(['enroll', '--event', 'past', '--user', 'u2', face('people/biden/1.jpg')], denv);
  assert.equal(late.code, 1);
  assert.match(late.stderr, /event "past" ended at .*, so nobody can be enrolled into it; move its end with `gate-agent events add past --ends <ISO time>`/);
  const roster = join(dir, 'late.csv');
  await writeFile(roster, `userId,name,email,phone,photos\nu3,X,,,${face('people/biden/1.jpg')}\n`);
  assert.match((await runCli(['attendees', 'import', '--event', 'past', roster], denv)).stderr, /event "past" ended at/);
  assert.match((await runCli(['attendees', 'purge'], denv)).stderr, /give either --event <id> or --expired/);
  const purged = await runCli(['attendees', 'purge', '--expired', '--json'], denv);
  assert.deepEqual(JSON.parse(purged.stdout), { events: ['past'] });
  assert.deepEqual((await events()).map((e) => [e.id, e.attendees]), [['past', 0]]);
});

test('attendees import: per-row report, failed rows leave nothing, the rest enrolled', async () => {
  await runCli(['events', 'add', 'conf'], env);
  const roster = join(dir, 'roster.csv');
  await writeFile(
    roster,
    [
      'userId,name,email,phone,photos',
      `k1,Kit,k@example.org,555,${face('people/kit_harington/1.jpg')};${face('people/kit_harington/2.jpg')}`,
      `r1,Rose,,,${face('people/rose_leslie/1.jpg')}`,
      `x1,Nobody,,,${face('white.png')}`,
      `x2,Missing,,,/nonexistent/p.jpg`,
      `,NoId,,,${face('people/biden/1.jpg')}`,
    ].join('\n'),
  );
  const r = await runCli(['attendees', 'import', '--event', 'conf', roster, '--json'], env);
  assert.equal(r.code, 1, 'failed rows make the exit code non-zero');
  const rep = JSON.parse(r.stdout) as { imported: number; failed: number; rows: { row: number; ok: boolean; problems?: string[] }[] };
  assert.equal(rep.imported, 2);
  assert.equal(rep.failed, 3);
  assert.match(rep.rows[2]!.problems![0]!, /white\.png: no face found/);
  assert.match(rep.rows[3]!.problems![0]!, /p\.jpg: file does not exist/);
  assert.match(rep.rows[4]!.problems![0]!, /userId is empty/);
  const list = JSON.parse((await runCli(['attendees', 'list', '--event', 'conf', '--json'], env)).stdout) as { userId: string; embeddings: number }[];
  assert.deepEqual(list.map((x) => [x.userId, x.embeddings]), [['k1', 2], ['r1', 1]]);
});

test('SIGKILL during a large import leaves a sound database holding whole attendees only', async () => {
  const data = join(dir, 'kill');
  await runCli(['events', 'add', 'big'], { GATE_AGENT_DATA_DIR: data });
  const roster = join(dir, 'big.csv');
  const rows = Array.from({ length: 400 }, (_, i) => `p${i},P${i},,,${face('people/obama/1.jpg')};${face('people/obama/4.jpg')}`);
  await writeFile(roster, ['userId,name,email,phone,photos', ...rows].join('\n'));
  const child = own(spawn(process.execPath, [BIN, 'attendees', 'import', '--event', 'big', roster], {
    env: { ...process.env, GATE_AGENT_MODELS_DIR: SHARED_MODELS, GATE_AGENT_DATA_DIR: data },
    stdio: 'ignore',
  }));
  const dbPath = join(data, 'gate-agent.db');
  const count = () => {
    const db = new BetterSqlite3(dbPath, { readonly: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM attendees').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const deadline = Date.now() + 60_000;
  while (count() < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const db = new BetterSqlite3(dbPath);
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    const per = db.prepare('SELECT a.user_id, (SELECT COUNT(*) FROM embeddings e WHERE e.user_id = a.user_id) AS n FROM attendees a').all() as { n: number }[];
    assert.ok(per.length >= 8 && per.length < 400, `${per.length} attendees`);
    assert.ok(per.every((p) => p.n === 2), 'every attendee has both embeddings or is absent');
  } finally {
    db.close();
  }
});

test('keys create prints the key once and stores only its hash; audit verify; store rotate-key', async () => {
  const k = jsonLines((await runCli(['keys', 'create', '--name', 'kiosk-1', '--json'], env)).stdout)[0] as { key: string };
  assert.match(k.key, /^sgk_/);
  const list = await runCli(['keys', 'list'], env);
  assert.match(list.stdout, /kiosk-1/);
  assert.ok(!list.stdout.includes(k.key));
  assert.match((await runCli(['audit', 'verify'], env)).stdout, /audit chain ok/);
  const keyFile = join(dir, 'new.key');
  await writeFile(keyFile, randomBytes(32).toString('hex'));
  await runCli(['enroll', '--event', 'conf', '--user', 'b1', face('people/biden/2.jpg')], env);
  const rot = await runCli(['store', 'rotate-key', '--new-key-file', keyFile], env);
  assert.equal(rot.code, 0, rot.stderr);
  assert.match(rot.stdout, /re-sealed \d+ value\(s\); now set store.keyFile/);
  const withoutKey = await runCli(['identify', '--event', 'conf', face('people/biden/1.jpg')], env);
  assert.match(withoutKey.stderr, /encrypted data but no key is configured/);
  const withKey = await runCli(['identify', '--event', 'conf', '--json', face('people/biden/1.jpg')], { ...env, GATE_AGENT__store__keyFile: JSON.stringify(keyFile) });
  assert.equal((jsonLines(withKey.stdout)[0] as { match: { userId: string } }).match.userId, 'b1');
});
