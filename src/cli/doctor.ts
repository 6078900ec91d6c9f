// `gate-agent doctor` and `gate-agent relay test`: for the technician at the gate.
import type { Command } from 'commander';
import { runChecks } from '../doctor/checks.js';
import { acquireRelayLock, createRelay } from '../relay/index.js';
import { action, fail, resolveContext, withCommonOptions, type CommonOptions } from './common.js';
import { errorText } from '../errors.js';

const MARK = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;

export function register(program: Command): void {
  withCommonOptions(program.command('doctor').description('check config, models, database, event, camera, relay, broker and central server')).action(
    action(async (opts: CommonOptions) => {
      const ctx = resolveContext(opts);
      const checks = await runChecks(ctx);
      if (opts.json) process.stdout.write(JSON.stringify({ ok: !checks.some((c) => c.status === 'fail'), checks }) + '\n');
      else for (const c of checks) process.stdout.write(`${MARK[c.status]}  ${c.name.padEnd(15)} ${c.detail}\n`);
      if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
    }),
  );

  const relay = program.command('relay').description('the door relay');
  withCommonOptions(
    relay
      .command('test')
      .description('pulse the relay once, as a grant would (stop the daemon first: two processes must not drive one line)')
      .option('--pulse-ms <ms>', 'pulse length (default relay.pulseMs)', (v) => Number(v)),
  ).action(
    action(async (opts: CommonOptions & { pulseMs?: number }) => {
      const ctx = resolveContext(opts);
      const ms = opts.pulseMs ?? ctx.config.relay.pulseMs;
      if (!Number.isFinite(ms) || ms <= 0 || ms > ctx.config.relay.pulseMs) {
        process.stderr.write(`gate-agent: --pulse-ms must be a number from 1 to relay.pulseMs (${ctx.config.relay.pulseMs})\n`);
        process.exitCode = 2;
        return;
      }
      // Never while the daemon drives the line: two processes must not fight over it.
      const release = acquireRelayLock(ctx.dataDir, 'relay test');
      const r = createRelay(ctx.config.relay);
      try {
        try {
          await r.start();
          // Resolves only when the driver saw the line driven for the whole pulse.
          await r.pulseChecked(ms);
        } catch (err) {
          return fail(`relay test: the ${r.driver} relay on line ${ctx.config.relay.pin} did not pulse: ${errorText(err)}`);
        }
        const s = r.state();
        const out = { driver: r.driver, pin: ctx.config.relay.pin, pulseMs: ms, pulsed: true, activeAfter: s.active };
        process.stdout.write(
          opts.json
            ? JSON.stringify(out) + '\n'
            : `pulsed the ${r.driver} relay on line ${ctx.config.relay.pin} for ${ms} ms (${r.driver === 'sim' ? 'simulated: no door moved' : 'the driver confirmed the line was driven'}); it is ${s.active ? 'STILL ACTIVE' : 'off again'}\n`,
        );
        if (s.active) process.exitCode = 1;
      } finally {
        await r.stop();
        release();
      }
    }),
  );
}
