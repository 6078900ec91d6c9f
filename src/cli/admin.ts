// `gate-agent keys create|list|revoke`, `audit verify`, `store rotate-key`.
import type { Command } from 'commander';
import { createKey, formatCreatedKey, formatKeyList, listKeys, revokeKey } from '../api/keys.js';
import { auditVerifyReport } from '../publish/audit.js';
import { FieldCipher, loadKey } from '../store/crypto.js';
import { openStore, openStoreDatabase } from '../store/open.js';
import * as storeBackup from './store-backup.js';
import { action, fail, resolveContext, withCommonOptions, type CommonOptions } from './common.js';

export function register(program: Command): void {
  const keys = program.command('keys').description('API keys for the local identity endpoint');
  withCommonOptions(keys.command('create').description('create a key; it is printed once, only its hash is stored').requiredOption('--name <label>', 'who the key is for')).action(
    action(async (opts: CommonOptions & { name: string }) => {
      const ctx = resolveContext(opts);
      const db = openStoreDatabase(ctx.config, ctx.dataDir);
      try {
        process.stdout.write(formatCreatedKey(createKey(db, opts.name), opts.name, Boolean(opts.json)) + '\n');
      } finally {
        db.close();
      }
    }),
  );
  withCommonOptions(keys.command('list').description('list keys (never the keys themselves)')).action(
    action(async (opts: CommonOptions) => {
      const ctx = resolveContext(opts);
      const db = openStoreDatabase(ctx.config, ctx.dataDir);
      try {
        process.stdout.write(formatKeyList(listKeys(db), Boolean(opts.json)) + '\n');
      } finally {
        db.close();
      }
    }),
  );
  withCommonOptions(keys.command('revoke <idOrName>').description('revoke a key by id or name')).action(
    action(async (idOrName: string, opts: CommonOptions) => {
      const ctx = resolveContext(opts);
      const db = openStoreDatabase(ctx.config, ctx.dataDir);
      try {
        const r = revokeKey(db, /^\d+$/.test(idOrName) ? Number(idOrName) : idOrName);
        if (!r) return fail(`no live key "${idOrName}"; \`gate-agent keys list\` shows them`);
        process.stdout.write(opts.json ? JSON.stringify(r) + '\n' : `revoked key ${r.id} "${r.name}"\n`);
      } finally {
        db.close();
      }
    }),
  );

  const audit = program.command('audit').description('the hash-chained audit log of decisions');
  withCommonOptions(audit.command('verify').description('check that no audit record was dropped or altered')).action(
    action(async (opts: CommonOptions) => {
      const ctx = resolveContext(opts);
      const db = openStoreDatabase(ctx.config, ctx.dataDir);
      try {
        const r = auditVerifyReport(db);
        process.stdout.write((opts.json ? JSON.stringify(r.result) : r.text) + '\n');
        process.exitCode = r.exitCode;
      } finally {
        db.close();
      }
    }),
  );

  const store = program.command('store').description('the local attendee database');
  storeBackup.register(store);
  withCommonOptions(
    store
      .command('rotate-key')
      .description('re-encrypt embeddings, KYC data and kept photos with a new key (the current key comes from the config)')
      .option('--new-key-file <file>', 'file with the new 256-bit key')
      .option('--decrypt', 'store the data unencrypted from now on'),
  ).action(
    action(async (opts: CommonOptions & { newKeyFile?: string; decrypt?: boolean }) => {
      const ctx = resolveContext(opts);
      if (!opts.newKeyFile && !opts.decrypt) return fail('give --new-key-file <file> (or --decrypt to remove encryption)');
      const next = new FieldCipher(opts.decrypt ? null : loadKey(opts.newKeyFile!, undefined));
      const s = openStore(ctx.config, ctx.dataDir);
      try {
        const { values } = s.rekey(next);
        process.stdout.write(
          opts.json
            ? JSON.stringify({ values }) + '\n'
            : `re-sealed ${values} value(s); now set store.keyFile to ${opts.decrypt ? 'null' : opts.newKeyFile} (and unset GATE_AGENT_STORE_KEY) before the next start\n`,
        );
      } finally {
        s.db.close();
      }
    }),
  );
}
