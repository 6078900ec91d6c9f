// `gate-agent doctor`: what a site technician checks first, each check saying what is
// wrong and what to do. Checks never change anything (no relay pulse, no writes but
// the store's own migrations).
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, statfsSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import type { Config } from '../config/types.js';
import { chooseCamera } from '../app/camera.js';
import { modelById, locateModel } from '../models/manifest.js';
import { chooseDriver, detectGpio } from '../relay/index.js';
import { openStore } from '../store/open.js';
import { currentEvent } from '../app/schedule.js';
import { thresholdCheck } from './threshold.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorContext {
  config: Config;
  configFile: string | null;
  modelsDir: string;
  dataDir: string;
  /** Network checks give up after this long. */
  timeoutMs?: number;
}

const ok = (name: string, detail: string): CheckResult => ({ name, status: 'ok', detail });
const warn = (name: string, detail: string): CheckResult => ({ name, status: 'warn', detail });
const fail = (name: string, detail: string): CheckResult => ({ name, status: 'fail', detail });

function tcpReachable(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (err: string | null) => {
      s.destroy();
      resolve(err);
    };
    s.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    s.once('connect', () => done(null));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

function hasProgram(name: string): boolean {
  try {
    execFileSync(name, ['-version'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

async function models(ctx: DoctorContext): Promise<CheckResult> {
  try {
    for (const id of [ctx.config.models.detector, ctx.config.models.embedder]) await locateModel(ctx.modelsDir, modelById(id), true);
    return ok('models', `${ctx.config.models.detector} and ${ctx.config.models.embedder} present with the right SHA-256 in ${ctx.modelsDir}`);
  } catch (err) {
    return fail('models', (err as Error).message);
  }
}

function store(ctx: DoctorContext): CheckResult[] {
  const out: CheckResult[] = [];
  try {
    accessSync(ctx.dataDir, constants.W_OK);
  } catch {
    if (existsSync(ctx.dataDir)) return [fail('data dir', `${ctx.dataDir} is not writable by this user; fix its owner (the service runs as gate-agent)`)];
  }
  let s;
  try {
    s = openStore(ctx.config, ctx.dataDir);
  } catch (err) {
    return [fail('database', `${(err as Error).message}`)];
  }
  try {
    const integrity = s.db.pragma('integrity_check', { simple: true });
    out.push(integrity === 'ok' ? ok('database', `${ctx.dataDir}/gate-agent.db passes integrity_check`) : fail('database', `integrity_check: ${String(integrity)}; restore from a backup or re-sync`));
    const events = s.listEvents();
    const ev = ctx.config.event.id ? (s.getEvent(ctx.config.event.id) ?? null) : currentEvent(events, Date.now(), ctx.config.gate.earlyOpenMinutes * 60_000);
    if (!ev) {
      out.push(
        ctx.config.event.id
          ? fail('event', `event ${ctx.config.event.id} is not in the local cache; run \`gate-agent sync --event ${ctx.config.event.id}\` or \`gate-agent events add\``)
          : warn('event', `no cached event is open now (${events.length} cached); nobody would be admitted. Set event.id or sync the schedule`),
      );
    } else {
      const attendees = s.listAttendees(ev.id).length;
      const notUsable = s.attendeesWithoutModel(ev.id, ctx.config.models.embedder).length;
      const line = `event ${ev.id}: ${attendees} attendee(s)${notUsable ? `, ${notUsable} not usable with ${ctx.config.models.embedder} (run \`gate-agent attendees reembed\` or \`gate-agent sync\`)` : ''}`;
      out.push(attendees === 0 ? warn('event', `${line}; nobody can be recognised`) : notUsable ? warn('event', line) : ok('event', line));
      out.push(thresholdCheck(ctx.config, attendees - notUsable));
      const sync = s.getSyncState(ev.id);
      if (ctx.config.sync.baseUrl && sync.lastError) out.push(warn('last sync', `failed: ${sync.lastError}`));
    }
    const depth = (s.db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
    out.push(depth > ctx.config.mqtt.outboxMaxMessages / 2 ? warn('outbox', `${depth} results waiting for the broker (limit ${ctx.config.mqtt.outboxMaxMessages})`) : ok('outbox', `${depth} result(s) waiting for the broker`));
  } finally {
    s.db.close();
  }
  try {
    const fs = statfsSync(ctx.dataDir);
    const freeMb = (fs.bavail * fs.bsize) / 1048576;
    out.push(freeMb < 200 ? warn('disk', `${freeMb.toFixed(0)} MB free in ${ctx.dataDir}; results queue up there while offline`) : ok('disk', `${freeMb.toFixed(0)} MB free`));
  } catch {
    /* the data dir does not exist yet: openStore creates it */
  }
  return out;
}

function camera(ctx: DoctorContext): CheckResult {
  const choice = chooseCamera(ctx.config.camera);
  if (!choice.options) return warn('camera', choice.description);
  if (choice.options.kind === 'webcam') return hasProgram('fswebcam') ? ok('camera', choice.description) : fail('camera', 'fswebcam is not installed: `apt-get install fswebcam`');
  if (!hasProgram('ffmpeg')) return fail('camera', `${choice.description}, but ffmpeg is not installed: \`apt-get install ffmpeg\``);
  if (choice.options.kind === 'v4l2' && !existsSync(choice.options.device)) return fail('camera', `${choice.options.device} does not exist; check the cable and \`ls /dev/video*\``);
  if (choice.options.kind === 'replay' && !existsSync(choice.options.path)) return fail('camera', `${choice.options.path} does not exist; fix camera.path`);
  return ok('camera', choice.description);
}

function relay(ctx: DoctorContext): CheckResult {
  const support = detectGpio(ctx.config.relay.gpiodBinDir);
  const driver = chooseDriver(ctx.config.relay.driver, support);
  if (ctx.config.relay.driver !== 'auto' && ctx.config.relay.driver !== 'sim' && driver === 'sim') {
    return fail('relay', `relay.driver is ${ctx.config.relay.driver} but no usable GPIO was found (sysfs: ${support.sysfs}, gpiochip + gpioset: ${support.gpiod}); check the user is in the gpio group`);
  }
  if (driver === 'sim') return warn('relay', 'no GPIO on this machine: the simulated relay would be used and no door would open');
  return ok('relay', `${driver} driver, line ${ctx.config.relay.pin}${ctx.config.relay.activeLow ? ' (active low)' : ''}; test it with \`gate-agent relay test\``);
}

async function network(name: string, url: string | null, unset: string, ctx: DoctorContext): Promise<CheckResult> {
  if (!url) return warn(name, unset);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return fail(name, `${url} is not a URL`);
  }
  const defaultPort: Record<string, number> = { 'mqtt:': 1883, 'mqtts:': 8883, 'ws:': 80, 'wss:': 443, 'http:': 80, 'https:': 443 };
  const port = Number(u.port) || defaultPort[u.protocol] || 0;
  const err = await tcpReachable(u.hostname, port, ctx.timeoutMs ?? 3000);
  return err ? fail(name, `${u.hostname}:${port} not reachable (${err}); check the network, DNS and firewall. Results and decisions continue offline`) : ok(name, `${u.hostname}:${port} reachable`);
}

export async function runChecks(ctx: DoctorContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [ok('config', ctx.configFile ? `${ctx.configFile} is valid` : 'no config file: embedded defaults')];
  out.push(await models(ctx));
  out.push(...store(ctx));
  out.push(camera(ctx));
  out.push(relay(ctx));
  out.push(await network('broker', ctx.config.mqtt.brokerUrl, 'mqtt.brokerUrl not set: results stay in the local outbox', ctx));
  out.push(await network('central server', ctx.config.sync.baseUrl, 'sync.baseUrl not set: attendees come from local enrollment only', ctx));
  // A clock behind the time this agent was installed is certainly wrong (a Pi without
  // RTC that booted without NTP); event windows and TLS certificates depend on it.
  const installedAt = statSync(new URL('../../../package.json', import.meta.url)).mtimeMs;
  out.push(
    Date.now() < installedAt - 86_400_000
      ? fail('clock', `the system clock says ${new Date().toISOString()}, before this agent was installed (${new Date(installedAt).toISOString()}); check NTP`)
      : ok('clock', new Date().toISOString()),
  );
  return out;
}
