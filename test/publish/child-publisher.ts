// A gate agent reduced to its publisher, run as a child process so tests can
// SIGKILL it. Reads its setup from the environment; prints one JSON line when started.
import Database from 'better-sqlite3';
import { MqttPublisher } from '../../src/publish/publisher.js';
import { Outbox } from '../../src/publish/outbox.js';
import { identity, testOptions } from './helpers.js';
import { migrate } from '../../src/store/migrations.js';

const dbPath = process.env.SG_TEST_DB;
const url = process.env.SG_TEST_BROKER;
if (dbPath === undefined || url === undefined) throw new Error('SG_TEST_DB and SG_TEST_BROKER are required');
const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
migrate(db);
const outbox = new Outbox(db, { identity, maxMessages: 1_000_000 });
const pub = new MqttPublisher(testOptions(url, { keepaliveSec: 2 }), { outbox, identity });
pub.start();
process.stdout.write(JSON.stringify({ started: true, depth: outbox.depth() }) + '\n');
process.on('SIGTERM', () => {
  void pub.stop().finally(() => {
    db.close();
    process.exit(0);
  });
});
