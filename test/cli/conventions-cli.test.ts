// CLI conventions through the real CLI: an example in every --help, required options marked,
// shared options before or after the command, JSON errors with --json, the default config
// announced on stderr, and root refused on a data folder that belongs to the service user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chown, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { commandKey } from '../../src/cli/examples.js';
import { runCli } from './run.js';

const tempDir = async (t: { after(fn: () => Promise<void>): void }): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'cli-conv-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

const allCommands = (c: Command): Command[] => c.commands.flatMap((s) => [s, ...allCommands(s)]);

test('every command\'s --help has an example that names the command, and marks its required options', () => {
  const commands = allCommands(buildProgram());
  assert.ok(commands.length > 40, `${commands.length} commands`);
  const missing: string[] = [];
  for (const cmd of commands) {
    let help = '';
    cmd.configureOutput({ writeOut: (s) => (help += s) });
    cmd.outputHelp();
    const key = commandKey(cmd);
    if (!new RegExp(`\\nExamples?:\\n {2}\\$ gate-agent ${key.split(' ')[0]}`).test(help)) missing.push(key);
    for (const o of cmd.options.filter((x) => x.mandatory)) assert.match(cmd.createHelp().optionDescription(o), /\(required\)$/, `${key} ${o.flags}`);
  }
  assert.deepEqual(missing, [], 'commands without an example: add one to src/cli/examples.ts');
});

test('--help through the real CLI: the example and (required)', async () => {
  const r = await runCli(['attendees', 'import', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /--event <id>\s+event id \(required\)/);
  assert.match(r.stdout, /\nExample:\n {2}\$ gate-agent attendees import roster\.csv --event gala-2026/);
});

test('shared options before or after the command; the config in use is named on stderr, never on stdout', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'gate.yaml');
  await writeFile(file, `version: 1\ndataDir: ${join(dir, 'data')}\n`);
  const before = await runCli(['--config', file, '--json', 'events', 'list']);
  const after = await runCli(['events', 'list', '--config', file, '--json']);
  for (const r of [before, after]) {
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
    assert.equal(r.stderr, `gate-agent: config ${file}, data in ${join(dir, 'data')}\n`);
  }
  assert.ok((await readdir(join(dir, 'data'))).length > 0, 'the data folder named by the file was used');
  const dd = await runCli(['--data-dir', join(dir, 'other'), 'audit', 'verify', '--json']);
  assert.equal(dd.code, 0, dd.stderr);
  assert.deepEqual(JSON.parse(dd.stdout), { ok: true, records: 0, lastSeq: 0, lastHash: '0'.repeat(64) });
  assert.match(dd.stderr, /^gate-agent: no config file \(.*\): built-in defaults, data in .*other; `gate-agent config init` writes one\n$/);
});

test('without --config the installed default is used when it exists (GATE_AGENT_DEFAULT_CONFIG stands for /etc/gate-agent/config.yaml)', async (t) => {
  const dir = await tempDir(t);
  const def = join(dir, 'etc', 'config.yaml');
  const env = { GATE_AGENT_DEFAULT_CONFIG: def };
  const none = await runCli(['config', 'show', '--json'], env);
  assert.equal(none.code, 0, none.stderr);
  assert.equal((JSON.parse(none.stdout) as { file: string | null }).file, null);
  assert.match(none.stderr, new RegExp(`no config file \\(${def} does not exist\\)`));
  await mkdir(join(dir, 'etc'));
  await writeFile(def, `version: 1\ngateId: north-7\ndataDir: ${join(dir, 'data')}\n`);
  const used = await runCli(['config', 'show', '--json'], env);
  assert.equal(used.code, 0, used.stderr);
  const shown = JSON.parse(used.stdout) as { file: string; values: { path: string; value: unknown }[] };
  assert.equal(shown.file, def);
  assert.equal(shown.values.find((v) => v.path === 'gateId')?.value, 'north-7');
  assert.equal(used.stderr, `gate-agent: config ${def} (the default; --config FILE for another), data in ${join(dir, 'data')}\n`);
});

test('--json: failures are {"error": "..."} on stdout with a failing exit code, commander\'s own errors too', async (t) => {
  const dir = await tempDir(t);
  const env = { GATE_AGENT_DATA_DIR: join(dir, 'data') };
  const cases: [string[], RegExp, number][] = [
    [['attendees', 'show', '--event', 'nope', '--user', 'u1', '--json'], /./, 1],
    [['events', 'list', '--bogus', '--json'], /^unknown option '--bogus'/, 1],
    [['attendees', 'list', '--json'], /required option '--event <id>' not specified/, 1],
    [['run', '--json'], /^`gate-agent run` prints no data, so it has no --json; leave it out$/, 1],
    [['config', 'set', 'match.threshold', '0.4', '--config', join(dir, 'missing.yaml'), '--json'], /cannot read the file \(ENOENT\); `gate-agent config init --out .*missing\.yaml` writes a first one/, 2],
  ];
  for (const [args, error, code] of cases) {
    const r = await runCli(args, env);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, r.stdout);
    const out = JSON.parse(lines[0]!) as { error: string };
    assert.match(out.error, error, args.join(' '));
    assert.doesNotMatch(r.stderr, /^gate-agent: (?!config |no config file)/m, 'the error is not printed twice');
  }
});

test('root on a data folder owned by the service user is refused with the sudo -u command, before any file is made', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root');
  const dir = await tempDir(t);
  const data = join(dir, 'var-lib-gate-agent');
  await mkdir(data);
  await chown(data, 65534, 65534);
  const r = await runCli(['events', 'add', 'gala', '--data-dir', data]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`refusing to run as root: ${data} belongs to (nobody|#65534).*Run it as \\S+: sudo -u \\S+ gate-agent events add gala --data-dir ${data}$`, 'm'));
  assert.deepEqual(await readdir(data), [], 'nothing was created');
  // Reading the config or the status creates nothing, so it is not refused.
  assert.equal((await runCli(['config', 'validate', '--data-dir', data])).code, 0);
});
