// `gate-agent run` (the daemon) and `gate-agent config validate` (`config show`: config-show.ts).
import type { Command } from 'commander';
import { GateDaemon } from '../app/daemon.js';
import { ConfigError } from '../config/load.js';
import { journalPrefix, logger } from '../log.js';
import { Shutdown } from '../service/shutdown.js';
import { SdNotify } from '../service/sdnotify.js';
import { action, resolveContext, withCommonOptions, type CommonOptions } from './common.js';
import * as configShow from './config-show.js';
import * as configInit from './config-init.js';
import * as configSet from './config-set.js';
import { errorText } from '../errors.js';

const log = logger('cli');

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('run')
      .description('run the gate: camera -> face match -> relay, results to the outbox and MQTT')
      .option('--event <id>', 'admit this event\'s attendees (default: event.id, or the current event by schedule)')
      .option('--camera-path <path>', 'replay this video file or folder of images instead of the configured camera')
      .option('--once', 'stop when the camera source ends (a replay), printing a summary'),
    { json: false },
  ).action(
    action(async (opts: CommonOptions & { event?: string; cameraPath?: string; once?: boolean }) => {
      const ctx = resolveContext(opts);
      if (opts.event) ctx.config.event.id = opts.event;
      if (opts.cameraPath) ctx.config.camera = { ...ctx.config.camera, kind: 'replay', path: opts.cameraPath };
      const notify = new SdNotify({ healthy: () => daemon.healthy() });
      const daemon: GateDaemon = new GateDaemon({ ...ctx, once: opts.once ?? false, notify });
      let startFailed = false;
      const shutdown = new Shutdown({
        exit: (code) => process.exit(startFailed && code === 0 ? 1 : code),
        relay: {
          safe: () => {
            daemon.halt();
            daemon.relay?.safe();
          },
        },
        components: [...daemon.components(), { name: 'notify', stop: () => notify.stop() }],
        deadlineMs: ctx.config.daemon.shutdownDeadlineMs,
        notify,
      });
      shutdown.install();
      try {
        await daemon.start();
      } catch (err) {
        startFailed = true;
        log.error({ err: errorText(err) }, 'gate-agent failed to start');
        process.stderr.write(`${journalPrefix(3)}gate-agent: cannot start: ${errorText(err)}\n`);
        await shutdown.run('start failed');
      }
      if (opts.once) {
        await daemon.finished;
        // Tracks still open when the replay ends are reported as at their expiry.
        daemon.flushTracks();
        // Pulses count once the relay driver has confirmed them.
        await daemon.pulsesSettled();
        const s = daemon.stats;
        process.stdout.write(
          JSON.stringify({ event: daemon.event?.id ?? null, frames: s.frames, framesFailed: s.framesFailed, decisions: s.decisions, pulses: s.pulses, pulseFailures: s.pulseFailures, grantLatencyMs: s.grantLatencyMs.values().map((v) => Math.round(v)) }) + '\n',
        );
        await shutdown.run('replay ended');
      }
    }),
  );

  const config = program.command('config').description('the config file');
  configInit.register(config);
  configSet.register(config);
  configShow.register(config);
  withCommonOptions(config.command('validate').description('check the config file; list every problem at once'), { json: true }).action(
    action(async (opts: CommonOptions) => {
      try {
        const ctx = resolveContext(opts, { writesData: false });
        const out = { ok: true, file: ctx.configFile, problems: [] as string[] };
        process.stdout.write(opts.json ? JSON.stringify(out) + '\n' : `${ctx.configFile ?? '(embedded defaults)'}: ok\n`);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        if (opts.json) process.stdout.write(JSON.stringify({ ok: false, file: err.file, problems: err.problems }) + '\n');
        else process.stdout.write(err.message + '\n');
        process.exitCode = 2;
      }
    }),
  );
}
