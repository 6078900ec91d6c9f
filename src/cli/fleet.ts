// `gate-agent fleet status [--json]`: every gate of the site, from the broker's retained
// status topics (docs/fleet.md).
import type { Command } from 'commander';
import { fleetRows, readFleetStatus, type FleetRow } from '../fleet/status-reader.js';
import { siteRootOf } from '../fleet/topics.js';
import { action, fail, resolveContext, withCommonOptions, type CommonOptions } from './common.js';
import { errorText } from '../errors.js';

type FleetStatusOptions = CommonOptions & { broker?: string; site?: string; waitMs?: string };

export function formatFleet(rows: FleetRow[], root: string): string {
  if (rows.length === 0) return `no gate has a retained status under ${root}/+/status\n`;
  const head = ['GATE', 'STATE', 'HEALTH', 'EVENT', 'CAMERA', 'RELAY', 'OUTBOX', 'LAST DECISION', 'FLEET'];
  const table = rows.map((r) => [
    r.gateId,
    r.online ? 'online' : `offline${r.reason ? ` (${r.reason})` : ''}`,
    r.healthOk === null ? '-' : r.healthOk ? 'ok' : 'FAULT',
    r.eventId ?? '-',
    r.camera ?? '-',
    r.relay ?? '-',
    r.outboxDepth === null ? '-' : String(r.outboxDepth),
    r.lastDecisionAt ? `${r.lastDecisionAt} ${r.lastDecision ?? ''}` : '-',
    r.fleet ?? '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const out = [line(head), ...table.map(line)];
  for (const r of rows) for (const f of r.faults) out.push(`  ${r.gateId}: ${f}`);
  return out.join('\n') + '\n';
}

export function register(program: Command): void {
  const fleet = program.command('fleet').description('the gates of this site, as the shared broker knows them (docs/fleet.md)');
  withCommonOptions(
    fleet
      .command('status')
      .description('every gate of the site from the retained status topics: online, health, event, camera, relay, outbox depth, last decision')
      .option('--broker <url>', 'broker URL (default: mqtt.brokerUrl)')
      .option('--site <siteId>', 'site id (default: siteId; fleet.siteTopic when set)')
      .option('--wait-ms <ms>', 'how long to collect the retained statuses (default: fleet.statusWaitMs)'),
  ).action(
    action(async (opts: FleetStatusOptions) => {
      const { config } = resolveContext(opts);
      const brokerUrl = opts.broker ?? config.mqtt.brokerUrl;
      if (!brokerUrl) return fail('no broker: set mqtt.brokerUrl in the config or pass --broker mqtt://host:1883', 2);
      const waitMs = opts.waitMs === undefined ? config.fleet.statusWaitMs : Number(opts.waitMs);
      if (!Number.isInteger(waitMs) || waitMs < 1) return fail(`--wait-ms ${opts.waitMs}: must be a whole number of milliseconds, e.g. 1500`, 2);
      const root = siteRootOf(opts.site ? '' : config.fleet.siteTopic, opts.site ?? config.siteId);
      let statuses;
      try {
        statuses = await readFleetStatus({ ...config.mqtt, brokerUrl }, root, waitMs);
      } catch (err) {
        return fail(errorText(err));
      }
      const { rows, problems } = fleetRows(statuses);
      for (const p of problems) process.stderr.write(`gate-agent: ${p}\n`);
      if (opts.json) process.stdout.write(JSON.stringify({ site: root, gates: rows }) + '\n');
      else process.stdout.write(formatFleet(rows, root));
    }),
  );
}
