// `gate-agent store backup` while another process writes, and a rollback meeting a newer
// schema: the store refuses it and names the backup, and restoring that backup works.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { runCli } from '../cli/run.js';
import { LATEST_VERSION } from '../../src/store/migrations.js';

let dir: string;
let env: Record<string, string>;
let db: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'backup-'));
  env = { GATE_AGENT_DATA_DIR: join(dir, 'data') };
  db = join(dir, 'data', 'gate-agent.db');
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

const count = (file: string): number => {
  const d = new BetterSqlite3(file, { readonly: true });
  try {
    return (d.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
  } finally {
    d.close();
  }
};

test('store backup makes a consistent, private, self-contained copy while another process writes', async () => {
  assert.equal((await runCli(['events', 'add', 'e0'], env)).code, 0);
  // A second writer, as the daemon would be: a commit every few milliseconds during the backup.
  const writer = new BetterSqlite3(db);
  writer.pragma('journal_mode = WAL');
  const insert = writer.prepare('INSERT INTO events (id, name, created_at) VALUES (?, ?, ?)');
  let n = 1;
  const timer = setInterval(() => { insert.run(`e${n++}`, 'x'.repeat(2000), Date.now()); }, 2);
  const atStart = n;
  const r = await runCli(['store', 'backup', '--json'], env).finally(() => clearInterval(timer));
  writer.close();
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { file: string; schemaVersion: number };
  assert.equal(out.schemaVersion, LATEST_VERSION());
  assert.match(out.file, /\/data\/backups\/gate-agent-[0-9TZ-]+\.db$/);
  assert.equal((await stat(out.file)).mode & 0o777, 0o600, 'templates and KYC data: owner only');
  assert.deepEqual((await readdir(join(dir, 'data', 'backups'))).filter((f) => !f.endsWith('.db')), [], 'no -wal, -shm or .partial beside it');
  const inCopy = count(out.file);
  assert.ok(inCopy >= atStart && inCopy <= n, `${inCopy} events: between ${atStart} and ${n}`);
  const again = await runCli(['store', 'backup', out.file], env);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists; give another file name/);
  const none = await runCli(['store', 'backup'], { GATE_AGENT_DATA_DIR: join(dir, 'nothing') });
  assert.match(none.stderr, /no database at .*nothing\/gate-agent\.db: nothing to back up/);
});

test('a database from a newer release is refused with the backup to restore, and the restore works', async () => {
  const backups = (await readdir(join(dir, 'data', 'backups'))).map((f) => join(dir, 'data', 'backups', f));
  assert.equal(backups.length, 1);
  const inBackup = count(backups[0]!);
  // What a newer release does to the file: more tables, a higher user_version.
  const newer = new BetterSqlite3(db);
  newer.exec('CREATE TABLE from_the_future (x INTEGER)');
  newer.pragma(`user_version = ${LATEST_VERSION() + 1}`);
  newer.close();
  const r = await runCli(['events', 'list', '--json'], env);
  assert.equal(r.code, 1);
  // With --json the error is {"error": "..."} on stdout.
  const err = (JSON.parse(r.stdout) as { error: string }).error;
  assert.match(err, new RegExp(`schema version ${LATEST_VERSION() + 1}, newer than this gate-agent knows \\(${LATEST_VERSION()}\\)`));
  const cmd = /restore the backup made before the upgrade: `([^`]+)`/.exec(err)?.[1];
  assert.ok(cmd, err);
  assert.ok(cmd.includes(`cp ${backups[0]} ${db}`), cmd);
  // The restore, as the message says (without sudo and systemctl: no service here).
  await copyFile(backups[0]!, db);
  await rm(`${db}-wal`, { force: true });
  await rm(`${db}-shm`, { force: true });
  const back = await runCli(['events', 'list', '--json'], env);
  assert.equal(back.code, 0, back.stderr);
  assert.equal((JSON.parse(back.stdout) as unknown[]).length, inBackup);
  assert.ok(existsSync(db));
});
