// `gate-agent config set KEY VALUE`: change one key, validated with the whole config, written
// atomically; a running daemon is told to re-read it (SIGHUP).
import type { Command } from 'commander';
import { requestReload } from '../app/reload-request.js';
import { setConfigValue } from '../config/set.js';
import { isSecretKey, MASK } from '../config/show.js';
import { chooseConfigFile, defaultConfigPath } from './config-file.js';
import { action, resolveContext, withCommonOptions, type CommonOptions } from './common.js';
import { UsageError } from './format.js';

export function register(config: Command): void {
  withCommonOptions(
    config
      .command('set <key> <value>')
      .description('change one key of the config file (dotted key; the value is read as YAML: 0.36, true, null, text, [a, b]); checked with the whole config before an atomic write; a running daemon re-reads it'),
  ).action(
    action(async (key: string, value: string, opts: CommonOptions) => {
      const { file } = chooseConfigFile(opts.config);
      if (!file) throw new UsageError(`no config file to change: ${defaultConfigPath()} does not exist and --config was not given; \`gate-agent config init\` writes one`);
      const r = setConfigValue(file, key, value);
      const leaf = key.split('.').at(-1) ?? '';
      const shown = (v: unknown): unknown => (v !== null && isSecretKey(leaf) ? MASK : v);
      // The daemon that uses this data folder re-reads its config file.
      const ctx = resolveContext({ ...opts, config: file }, { writesData: false });
      const reload = r.changed ? requestReload(ctx.dataDir, Date.now()) : { sent: false as const, reason: 'nothing changed' };
      const other = reload.sent && reload.configFile && reload.configFile !== file ? reload.configFile : null;
      if (opts.json) {
        process.stdout.write(JSON.stringify({ file, key, previous: shown(r.previous), previousFrom: r.previousFrom, value: shown(r.value), changed: r.changed, reload }) + '\n');
        return;
      }
      process.stdout.write(r.changed ? `${file}: ${key} = ${JSON.stringify(shown(r.value))} (was ${JSON.stringify(shown(r.previous))}${r.previousFrom === 'default' ? ', the default' : ''})\n` : `${file}: ${key} is already ${JSON.stringify(shown(r.value))}; nothing written\n`);
      if (reload.sent) {
        process.stdout.write(
          `told the running daemon (pid ${reload.pid}) to reload: match, quality and gate apply at once, other keys after \`sudo systemctl restart gate-agent\`${other ? `; note: it runs with ${other}, not this file` : ''}\n`,
        );
      } else if (r.changed) process.stdout.write(`no running daemon told: ${reload.reason}\n`);
    }),
  );
}
