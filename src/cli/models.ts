// `gate-agent models verify|pull`.
import type { Command } from 'commander';
import { verifyModels } from '../models/verify.js';
import { pullPack } from '../models/pull.js';
import { packFor, pullCommand, requiredModels } from '../models/packs.js';
import { action, fail, resolveContext, withCommonOptions, type CommonOptions } from './common.js';

export function register(program: Command): void {
  const models = program.command('models').description('check and install the face models');

  withCommonOptions(models.command('verify').description('check every model file\'s SHA-256 and run one inference on each')).action(
    action(async (opts: CommonOptions) => {
      const ctx = resolveContext(opts);
      const required = requiredModels(ctx.config);
      const checks = await verifyModels(ctx.modelsDir, required, pullCommand({ configFile: ctx.configFile, modelsDirFlag: opts.modelsDir === process.env.GATE_AGENT_MODELS_DIR ? undefined : opts.modelsDir, required }));
      if (opts.json) process.stdout.write(JSON.stringify({ modelsDir: ctx.modelsDir, models: checks }) + '\n');
      else {
        process.stdout.write(`models in ${ctx.modelsDir}\n`);
        for (const c of checks) {
          const ms = c.inferenceMs !== undefined ? ` (${c.inferenceMs.toFixed(1)} ms)` : '';
          process.stdout.write(`  ${c.status.padEnd(16)} ${c.id}${c.required ? ' [configured]' : ''}${ms}${c.detail ? ` - ${c.detail}` : ''}\n`);
        }
      }
      const bad = checks.filter((c) => (c.required && c.status !== 'ok' && c.status !== 'unpinned') || c.status === 'hash_mismatch' || c.status === 'inference_failed');
      if (bad.length) fail(`${bad.length} model(s) not usable: ${bad.map((c) => `${c.id} ${c.status}`).join(', ')}`, 1, { json: false });
    }),
  );

  withCommonOptions(
    models
      .command('pull')
      .description('download (or copy) a model pack, verify its hashes and install it')
      .option('--pack <name>', 'pack to install (see models/manifest.json; default: the pack holding every model the config uses)')
      .option('--from <url|dir>', 'http(s) URL of the pack zip, a zip file, or a folder of its files (default: the pack\'s download address)')
      .addHelpText('after', '\nExamples:\n  gate-agent models pull --config /etc/gate-agent/config.yaml --from /media/usb/securegate_dev\n  gate-agent models pull --pack buffalo_sc'),
  ).action(
    action(async (opts: CommonOptions & { pack?: string; from?: string }) => {
      const ctx = resolveContext(opts);
      const pack = opts.pack ?? packFor(requiredModels(ctx.config)).name;
      if (!opts.pack && !opts.json) process.stderr.write(`the config needs ${requiredModels(ctx.config).join(', ')}: pack ${pack}\n`);
      const pulled = await pullPack({
        pack,
        ...(opts.from ? { from: opts.from } : {}),
        modelsDir: ctx.modelsDir,
        onProgress: (m) => { if (!opts.json) process.stderr.write(`${m}\n`); },
      });
      if (opts.json) process.stdout.write(JSON.stringify({ pack, modelsDir: ctx.modelsDir, changed: pulled.some((p) => p.changed), installed: pulled }) + '\n');
      else {
        for (const p of pulled) {
          process.stdout.write(`${p.id}: ${p.file} sha256 ${p.sha256}${p.pinned ? ' (verified)' : ' (NOT pinned in the manifest: compare with a trusted copy)'}${p.changed ? '' : ', already installed'}\n`);
        }
        process.stdout.write('InsightFace models are licensed for non-commercial research use only; see docs/models.md.\n');
      }
    }),
  );
}
