// `gate-agent config show`: the effective config, secrets masked, each value with its origin.
import type { Command } from 'commander';
import { showConfig } from '../config/show.js';
import { action, resolveContext, withCommonOptions, type CommonOptions } from './common.js';

export function register(config: Command): void {
  withCommonOptions(
    config
      .command('show')
      .description('the config the daemon would run with, secrets masked, and where each value came from (file, env GATE_AGENT__…, flag, default)')
      .option('--effective', 'every key, defaults included (without it: only the values set by the file, the environment or a flag)'),
  ).action(
    action(async (opts: CommonOptions & { effective?: boolean }) => {
      const ctx = resolveContext(opts, { writesData: false });
      const dataDirSource = opts.dataDir === undefined ? null : opts.dataDir === process.env.GATE_AGENT_DATA_DIR ? 'env GATE_AGENT_DATA_DIR' : 'flag --data-dir';
      const all = showConfig(ctx.config, { file: ctx.configFile, env: process.env, overrides: dataDirSource ? [{ path: 'dataDir', value: opts.dataDir, source: dataDirSource }] : [] });
      const values = opts.effective ? all : all.filter((v) => v.source !== 'default');
      if (opts.json) {
        process.stdout.write(JSON.stringify({ file: ctx.configFile, values }) + '\n');
        return;
      }
      process.stdout.write(`# config: ${ctx.configFile ?? '(no file: defaults)'}${opts.effective ? '' : '; add --effective for every key'}\n`);
      if (values.length === 0) process.stdout.write('(every key at its default)\n');
      const width = Math.max(0, ...values.map((v) => v.path.length));
      for (const v of values) process.stdout.write(`${v.path.padEnd(width)} = ${JSON.stringify(v.value)}  (${v.source})\n`);
    }),
  );
}
