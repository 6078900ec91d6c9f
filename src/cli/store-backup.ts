// `gate-agent store backup [FILE]`: a consistent copy of the database, safe while the daemon runs.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { backupDatabase, defaultBackupPath } from '../store/backup.js';
import { action, resolveContext, withCommonOptions, type CommonOptions } from './common.js';

/** `store`: the `gate-agent store` command (admin.ts makes it). */
export function register(store: Command): void {
  withCommonOptions(
    store
      .command('backup [file]')
      .description('copy the database consistently while the daemon runs (SQLite online backup); default file: <dataDir>/backups/gate-agent-<time>.db')
      .addHelpText(
        'after',
        '\nThe copy holds face templates and KYC data, sealed with store.keyFile: keep the key with it, and the copy as private as the gate.',
      ),
  ).action(
    action(async (file: string | undefined, opts: CommonOptions) => {
      const ctx = resolveContext(opts);
      const dest = resolve(file ?? defaultBackupPath(ctx.dataDir, Date.now()));
      const r = await backupDatabase(ctx.dataDir, dest);
      if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
      else process.stdout.write(`backed up the database (schema version ${r.schemaVersion}, ${r.bytes} bytes) to ${r.file}\n`);
    }),
  );
}
