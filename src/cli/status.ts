// `gate-agent status`: what the running daemon last said about itself (<dataDir>/status.json).
import type { Command } from 'commander';
import { readStatus, type StatusReading, type StatusSnapshot } from '../app/status.js';
import { action, resolveContext, withCommonOptions, type CommonOptions } from './common.js';

const WATCH_EVERY_MS = 1000;

const yesNo = (ok: boolean): string => (ok ? 'ok' : 'FAULT');

export function formatStatus(s: StatusSnapshot): string {
  const lines: string[] = [];
  lines.push(`gate ${s.gateId} (site ${s.siteId}), daemon pid ${s.pid}, snapshot at ${s.at}`);
  lines.push(`health:  ${s.health.ok ? 'ok' : s.health.summary}`);
  for (const [part, h] of Object.entries(s.health.parts)) lines.push(`  ${part.padEnd(7)} ${yesNo(h.ok).padEnd(5)} ${h.detail} (since ${h.since})`);
  lines.push(`event:   ${s.event ? `${s.event.id}, ${s.event.attendees ?? '?'} attendees usable${s.event.threshold === null ? '' : `, matching at threshold ${s.event.threshold}`}` : 'none: nobody is admitted'}`);
  lines.push(`camera:  ${s.camera ? `${s.camera.description}: ${s.camera.state}, ${s.camera.fps} frames/s${s.camera.lastError ? `, last error: ${s.camera.lastError}` : ''}` : 'none'}`);
  if (s.relay) {
    const p = s.relay.lastPulse;
    const f = s.relay.lastFault;
    lines.push(`relay:   ${s.relay.driver}${s.relay.active ? ', energised now' : ''}; last pulse: ${p ? `${p.at} ${p.ok ? 'ok' : `FAILED: ${p.error ?? ''}`}` : 'none yet'}; last fault: ${f ? `${f.at} ${f.error}` : 'none'}`);
  } else lines.push('relay:   not started');
  lines.push(`broker:  ${s.broker ? `${s.broker.url} ${s.broker.connected ? 'connected' : s.broker.state}${s.broker.lastError ? `; last error: ${s.broker.lastError} (${s.broker.lastErrorAt ?? ''})` : ''}` : 'not configured (mqtt.brokerUrl): results stay in the outbox'}`);
  lines.push(`outbox:  ${s.outboxDepth ?? '?'} messages waiting`);
  lines.push(`sync:    ${s.lastSync ? `last success ${s.lastSync.successAt ?? 'never'}${s.lastSync.error ? `; last error: ${s.lastSync.error} (${s.lastSync.attemptAt ?? ''})` : ''}` : 'no event'}`);
  lines.push(`decisions (newest first):${s.decisions.length ? '' : ' none yet'}`);
  for (const d of s.decisions) lines.push(`  ${d.at} ${d.kind === 'grant' ? 'GRANT' : 'deny '} ${d.reason}${d.userId ? ` ${d.userId}` : ''}${d.similarity !== null ? ` sim=${d.similarity.toFixed(3)}` : ''}${d.detail ? ` (${d.detail})` : ''}`);
  return lines.join('\n') + '\n';
}

function print(r: StatusReading, json: boolean | undefined): void {
  if (r.ok) process.stdout.write(json ? JSON.stringify(r.snapshot) + '\n' : formatStatus(r.snapshot));
  else if (json) process.stdout.write(JSON.stringify({ running: false, problem: r.problem }) + '\n');
  else process.stdout.write(`gate-agent: ${r.problem}\n`);
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('status')
      .description("the running daemon's status: health, event, camera, relay, broker, outbox, sync, the last decisions")
      .option('--watch', 'redraw every second until Ctrl-C'),
  ).action(
    action(async (opts: CommonOptions & { watch?: boolean }) => {
      const { dataDir } = resolveContext(opts, { writesData: false });
      if (!opts.watch) {
        const r = readStatus(dataDir, Date.now());
        print(r, opts.json);
        if (!r.ok) process.exitCode = 1;
        return;
      }
      const tty = process.stdout.isTTY;
      for (;;) {
        const r = readStatus(dataDir, Date.now());
        // On a terminal the screen is redrawn; piped, each snapshot follows the last.
        if (tty && !opts.json) process.stdout.write('\x1b[H\x1b[2J');
        print(r, opts.json);
        process.exitCode = r.ok ? 0 : 1;
        await new Promise((res) => setTimeout(res, WATCH_EVERY_MS));
      }
    }),
  );
}
