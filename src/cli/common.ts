// Options every subcommand accepts, and the context they resolve to.
import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { loadConfig, ConfigError } from '../config/load.js';
import type { Config } from '../config/types.js';
import { PROJECT_MODELS_DIR, ModelFileError } from '../models/manifest.js';
import { pullCommand, requiredModels, type FixContext } from '../models/packs.js';
import type { AttendeeStore } from '../store/attendees.js';
import { openStore } from '../store/open.js';

export interface CommonOptions {
  config?: string;
  dataDir?: string;
  modelsDir?: string;
  json?: boolean;
}

export function withCommonOptions(cmd: Command, { json = true } = {}): Command {
  cmd
    .addOption(new Option('--config <file>', 'config file (YAML or JSON)').env('GATE_AGENT_CONFIG'))
    .addOption(new Option('--data-dir <dir>', 'folder for the database and state').env('GATE_AGENT_DATA_DIR'))
    .addOption(new Option('--models-dir <dir>', 'folder holding the model files').env('GATE_AGENT_MODELS_DIR'));
  if (json) cmd.option('--json', 'print machine-readable JSON');
  return cmd;
}

/** The config the command resolved, so a missing-model error can name the command that fixes it. */
let lastModels: FixContext | undefined;

export interface Context {
  config: Config;
  configFile: string | null;
  modelsDir: string;
  dataDir: string;
}

/**
 * Model folder, first found: --models-dir, GATE_AGENT_MODELS_DIR (both arrive in
 * opts.modelsDir through commander), config models.dir, the project's models/.
 */
export function resolveContext(opts: CommonOptions): Context {
  const configFile = opts.config ?? null;
  const config = loadConfig({ file: configFile, overrides: { dataDir: opts.dataDir } });
  const modelsDir = resolve(opts.modelsDir || (config.models.dir ?? PROJECT_MODELS_DIR)); // an empty GATE_AGENT_MODELS_DIR is unset, not the current folder
  lastModels = { configFile, modelsDirFlag: opts.modelsDir === process.env.GATE_AGENT_MODELS_DIR ? undefined : opts.modelsDir, required: requiredModels(config) };
  return { config, configFile, modelsDir, dataDir: resolve(config.dataDir) };
}

/** A model file missing or wrong: the message plus the exact `models pull` for the config in use. */
export function withPullFix(message: string, fix: FixContext | undefined = lastModels): string {
  const cmd = fix ? pullCommand(fix) : 'gate-agent models pull --config <your config file>';
  return `${message}; install the models this config needs with \`${cmd}\`, then check with \`gate-agent models verify\``;
}

/** Print an error the way every command does and set a failing exit code. */
export function fail(message: string, code = 1): void {
  process.stderr.write(`gate-agent: ${message}\n`);
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

/** Run a command body; known errors become one clear line, not a stack trace. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof ConfigError) fail(err.message, 2);
      else if (err instanceof ModelFileError && err.fixedByPull) fail(withPullFix(err.message));
      else if (err instanceof Error && ['ModelFileError', 'ImageError', 'UsageError', 'StoreError'].includes(err.name)) fail(err.message);
      else if (err instanceof Error && /unknown model id|is a .* not a/.test(err.message)) fail(err.message);
      else if (isStorageError(err)) fail(storageProblem(err));
      else throw err;
    }
  };
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
