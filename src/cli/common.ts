// Options every subcommand accepts, and the context they resolve to.
import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { chooseConfigFile, configLine } from './config-file.js';
import { commandKey } from './examples.js';
import { assertRightUser } from './user-check.js';
import { UsageError } from './format.js';
import { loadConfig, ConfigError } from '../config/load.js';
import type { AgentContext } from '../app/context.js';
import { PROJECT_MODELS_DIR, ModelFileError } from '../models/manifest.js';
import { pullCommand, requiredModels, type FixContext } from '../models/packs.js';
import type { AttendeeStore } from '../store/attendees.js';
import { openStore } from '../store/open.js';
import { journalPrefix } from '../log.js';

export interface CommonOptions {
  config?: string;
  dataDir?: string;
  modelsDir?: string;
  json?: boolean;
}

const configOption = (): Option => new Option('--config <file>', 'config file (YAML or JSON); default /etc/gate-agent/config.yaml when it exists').env('GATE_AGENT_CONFIG');
const dataDirOption = (): Option => new Option('--data-dir <dir>', 'folder for the database and state').env('GATE_AGENT_DATA_DIR');
const modelsDirOption = (): Option => new Option('--models-dir <dir>', 'folder holding the model files').env('GATE_AGENT_MODELS_DIR');
const JSON_FLAG = '--json';

export function withCommonOptions(cmd: Command, { json = true } = {}): Command {
  cmd.addOption(configOption()).addOption(dataDirOption()).addOption(modelsDirOption());
  if (json) cmd.option(JSON_FLAG, 'print machine-readable JSON (errors too, as {"error": "..."})');
  return cmd;
}

/** The config the command resolved, so a missing-model error can name the command that fixes it. */
let lastModels: FixContext | undefined;
/**
 * The shared options on the program itself, so they work before the command too
 * (`gate-agent --config x doctor`); commander then takes them wherever they stand, and
 * action() merges them into each command's options.
 */
export function withGlobalOptions(program: Command): Command {
  return program.addOption(configOption()).addOption(dataDirOption()).addOption(modelsDirOption()).option(JSON_FLAG, 'print machine-readable JSON, on the commands that print data');
}


let jsonErrors = false;
/** Errors are printed as {"error": "..."} on stdout from now on (the command line has --json). */
export function setJsonErrors(on: boolean): void {
  jsonErrors = on;
}
export const jsonErrorsOn = (): boolean => jsonErrors;

/** Marks an error whose JSON form its command already printed. */
export const REPORTED = Symbol('reported as JSON');

/** What a command works on: the shape every command shares (src/app/context.ts). */
export type Context = AgentContext;

/**
 * Model folder, first found: --models-dir, GATE_AGENT_MODELS_DIR (both arrive in
 * opts.modelsDir through commander), config models.dir, the project's models/.
 */
export function resolveContext(opts: CommonOptions, { writesData = true } = {}): Context {
  const choice = chooseConfigFile(opts.config);
  const configFile = choice.file;
  const config = loadConfig({ file: configFile, overrides: { dataDir: opts.dataDir } });
  const modelsDir = resolve(opts.modelsDir || (config.models.dir ?? PROJECT_MODELS_DIR)); // an empty GATE_AGENT_MODELS_DIR is unset, not the current folder
  lastModels = { configFile, modelsDirFlag: opts.modelsDir === process.env.GATE_AGENT_MODELS_DIR ? undefined : opts.modelsDir, required: requiredModels(config) };
  const dataDir = resolve(config.dataDir);
  process.stderr.write(configLine(choice, dataDir) + '\n');
  // Before anything can create a root-owned file in the service's data folder.
  if (writesData) assertRightUser(dataDir);
  return { config, configFile, modelsDir, dataDir };
}

/** A model file missing or wrong: the message plus the exact `models pull` for the config in use. */
export function withPullFix(message: string, fix: FixContext | undefined = lastModels): string {
  const cmd = fix ? pullCommand(fix) : 'gate-agent models pull --config <your config file>';
  return `${message}; install the models this config needs with \`${cmd}\`, then check with \`gate-agent models verify\``;
}

/**
 * Print an error the way every command does (JSON with --json) and set a failing exit code.
 * json: false for a command that already printed the item's JSON and also says it in words.
 */
export function fail(message: string, code = 1, { json = jsonErrors } = {}): void {
  if (json) process.stdout.write(JSON.stringify({ error: message }) + '\n');
  else process.stderr.write(`${journalPrefix(3)}gate-agent: ${message}\n`);
  process.exitCode = code;
}

type ErrnoLike = Error & { code?: unknown; path?: unknown };

/** SQLite and file-permission failures: the technician gets one line with what to do. */
function isStorageError(err: unknown): err is ErrnoLike {
  if (!(err instanceof Error)) return false;
  const code = (err as ErrnoLike).code;
  return err.name === 'SqliteError' || code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOSPC';
}

function storageProblem(err: ErrnoLike): string {
  const code = typeof err.code === 'string' ? err.code : '';
  const where = typeof err.path === 'string' ? ` (${err.path})` : '';
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code === 'EACCES' || code === 'EPERM') {
    return `the gate's data cannot be written${where}: ${err.message}. Its files probably belong to another user (made by \`sudo gate-agent …\`?): run commands as the service user (\`sudo -u gate-agent gate-agent …\`) or give the data folder back (\`sudo chown -R gate-agent: /var/lib/gate-agent\`); \`gate-agent doctor\` shows which files`;
  }
  if (code.startsWith('SQLITE_FULL') || code === 'ENOSPC') return `the disk holding the gate's data is full${where}: ${err.message}. Free some space; \`gate-agent doctor\` shows how much is left`;
  if (code === 'EROFS') return `the gate's data folder is on a read-only file system${where}: ${err.message}`;
  return `the database failed: ${err.message} (${code}); \`gate-agent doctor\` checks it`;
}

/** A known error as one line and its exit code; null for a bug (a stack trace is then right). */
function knownProblem(err: unknown): { message: string; code: number } | null {
  if (err instanceof ConfigError) return { message: err.message, code: 2 };
  if (err instanceof ModelFileError && err.fixedByPull) return { message: withPullFix(err.message), code: 1 };
  if (err instanceof Error && ['ModelFileError', 'ImageError', 'UsageError', 'StoreError'].includes(err.name)) return { message: err.message, code: 1 };
  if (err instanceof Error && /unknown model id|is a .* not a/.test(err.message)) return { message: err.message, code: 1 };
  if (isStorageError(err)) return { message: storageProblem(err), code: 1 };
  return null;
}

/** Run a command body; known errors become one clear line, not a stack trace. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      mergeGlobalOptions(args);
      await fn(...args);
    } catch (err) {
      const known = knownProblem(err);
      if (!known) throw err;
      // A command that printed its own JSON error only needs the exit code.
      if ((err as { [REPORTED]?: boolean })[REPORTED]) process.exitCode = known.code;
      else fail(known.message, known.code);
    }
  };
}

/**
 * Commander hands an action (...arguments, options, command). The shared options given
 * before the command (or after it: the program takes them wherever they stand) are merged
 * into `options`; --json on a command that prints no data is refused.
 */
function mergeGlobalOptions(args: unknown[]): void {
  const cmd = args.at(-1);
  if (!(cmd instanceof Command) || args.length < 2) return;
  const merged = cmd.optsWithGlobals();
  if (merged.json && !cmd.options.some((o) => o.long === JSON_FLAG)) throw new UsageError(`\`gate-agent ${commandKey(cmd)}\` prints no data, so it has no --json; leave it out`);
  args[args.length - 2] = merged;
}

/** Whether option `key` was typed on the command line (not taken from the environment), on `cmd` or a parent. */
export function givenOnCommandLine(cmd: Command, key: string): boolean {
  for (let c: Command | null = cmd; c; c = c.parent) if (c.getOptionValueSource(key) === 'cli') return true;
  return false;
}

/** Open the attendee store for one command and close it afterwards, whatever happens. */
export async function withStore(opts: CommonOptions, fn: (store: AttendeeStore, ctx: Context) => void | Promise<void>): Promise<void> {
  const ctx = resolveContext(opts);
  const store = openStore(ctx.config, ctx.dataDir);
  try {
    await fn(store, ctx);
  } finally {
    store.db.close();
  }
}
