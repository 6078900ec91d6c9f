// `gate-agent doctor`: what a site technician checks first, each check saying what is
// wrong and what to do. Checks never change anything (no relay pulse, no writes but
// the store's own migrations).
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, statfsSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import BetterSqlite3 from 'better-sqlite3';
import { probeBroker } from '../publish/probe.js';
import { redactUrl } from '../publish/publisher.js';
import type { AgentContext } from '../app/context.js';
import { chooseCamera } from '../app/camera.js';
import { modelById, locateModel, ModelFileError } from '../models/manifest.js';
import { pullCommand, requiredModels } from '../models/packs.js';
import { chooseDriver, detectGpio, relayLockHolder } from '../relay/index.js';
import { openStore } from '../store/open.js';
import { currentEvent } from '../app/schedule.js';
import { thresholdCheck } from './threshold.js';
import { isoWithOffset } from '../clock.js';
import { errorText } from '../errors.js';
import { PACKAGE_JSON } from '../version.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorContext extends AgentContext {
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
    const ids = requiredModels(ctx.config);
    for (const id of ids) await locateModel(ctx.modelsDir, modelById(id), true);
    return ok('models', `${ids.join(', ')} present with the right SHA-256 in ${ctx.modelsDir}`);
  } catch (err) {
    const fix = err instanceof ModelFileError && err.fixedByPull ? `; install them with \`${pullCommand({ configFile: ctx.configFile, required: requiredModels(ctx.config) })}\`` : '';
    return fail('models', `${errorText(err)}${fix}`);
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
    return [fail('database', `${errorText(err)}`)];
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

/** The chip device: `gpiochip0`, `/dev/gpiochip0` or a number. */
function chipPath(chip: string): string {
  if (chip.startsWith('/')) return chip;
  return /^\d+$/.test(chip) ? `/dev/gpiochip${chip}` : `/dev/${chip}`;
}

function relay(ctx: DoctorContext): CheckResult {
  const r = ctx.config.relay;
  const support = detectGpio(r.gpiodBinDir);
  const driver = chooseDriver(r.driver, support);
  if (driver === 'sim') {
    return r.driver === 'sim' ? warn('relay', 'relay.driver is sim: pulses are only recorded, no door opens') : warn('relay', 'no GPIO on this machine: the simulated relay would be used and no door would open');
  }
  const holder = relayLockHolder(ctx.dataDir);
  const held = holder !== null ? ` (held now by the running gate-agent, pid ${holder})` : '';
  if (driver === 'gpiod') {
    const dev = chipPath(r.chip);
    if (!existsSync(dev)) return fail('relay', `relay.chip ${r.chip}: ${dev} does not exist; \`ls /dev/gpiochip*\` lists the chips (a Pi 5 uses gpiochip4 on older kernels, gpiochip0 on 6.6+)`);
    try {
      accessSync(dev, constants.R_OK | constants.W_OK);
    } catch {
      return fail('relay', `${dev} cannot be opened by this user; add it to the gpio group (\`sudo usermod -aG gpio gate-agent\`) or install the udev rule in docs/relay.md`);
    }
    if (!existsSync(`${r.gpiodBinDir}/gpioset`)) return fail('relay', `${r.gpiodBinDir}/gpioset is missing: \`sudo apt-get install gpiod\` or fix relay.gpiodBinDir`);
    const info = lineInfo(r.gpiodBinDir, r.chip, r.pin);
    if (info && /\bused\b|\[used/.test(info) && holder === null) return fail('relay', `line ${r.pin} on ${r.chip} is in use by another program (${info.trim()}); free it or pick another relay.pin`);
    return ok('relay', `gpiod driver, ${dev} line ${r.pin}${r.activeLow ? ' (active low)' : ''}${held}; test it with \`gate-agent relay test\``);
  }
  if (!support.sysfs) return fail('relay', `relay.driver is onoff but /sys/class/gpio/export is not writable by this user; add it to the gpio group, or use driver gpiod`);
  return ok('relay', `onoff driver, line ${r.pin}${r.activeLow ? ' (active low)' : ''}${held}; test it with \`gate-agent relay test\``);
}

/** gpioinfo's line for `pin` (v1 and v2 both print "line N:"), or null when it cannot tell. */
function lineInfo(binDir: string, chip: string, pin: number): string | null {
  try {
    const out = execFileSync(`${binDir}/gpioinfo`, [chip], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').find((l) => new RegExp(`^\\s*line\\s+${pin}:`).test(l)) ?? null;
  } catch {
    return null;
  }
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

/** A real MQTT connect with the configured credentials and TLS files. */
async function broker(ctx: DoctorContext): Promise<CheckResult> {
  const m = ctx.config.mqtt;
  if (!m.brokerUrl) return warn('broker', 'mqtt.brokerUrl not set: results stay in the local outbox');
  const reach = await network('broker', m.brokerUrl, '', ctx);
  if (reach.status !== 'ok') return reach;
  const err = await probeBroker({ ...m, brokerUrl: m.brokerUrl }, ctx.timeoutMs ?? 3000);
  return err ? fail('broker', `${redactUrl(m.brokerUrl)}: ${err}. Results and decisions continue offline`) : ok('broker', `${redactUrl(m.brokerUrl)} accepted this gate's credentials${m.caFile ? ' and TLS files' : ''}`);
}

/** Files the config points at: readable by this user, and secrets not readable by others. */
function files(ctx: DoctorContext): CheckResult[] {
  const out: CheckResult[] = [];
  const c = ctx.config;
  const entries: [string, string | null, boolean][] = [
    ['store.keyFile', c.store.keyFile, true],
    ['sync.apiKeyFile', c.sync.apiKeyFile, true],
    ['mqtt.caFile', c.mqtt.caFile, false],
    ['mqtt.certFile', c.mqtt.certFile, false],
    ['mqtt.keyFile', c.mqtt.keyFile, true],
  ];
  for (const [key, path, secret] of entries) {
    if (!path) continue;
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      out.push(fail(key, `${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'}); fix ${key} or the file's owner and mode (the service runs as gate-agent)`));
      continue;
    }
    const mode = statSync(path).mode;
    if (secret && (mode & 0o004) !== 0) out.push(warn(key, `${path} is readable by every user (mode ${(mode & 0o777).toString(8)}); \`chmod 600 ${path}\``));
    else out.push(ok(key, `${path} readable`));
  }
  return out;
}

/** The data dir and database belong to this user: a `sudo gate-agent …` leaves root-owned files the service cannot write. */
function ownership(ctx: DoctorContext): CheckResult | null {
  if (typeof process.getuid !== 'function' || !existsSync(ctx.dataDir)) return null;
  const uid = process.getuid();
  const wrong = [ctx.dataDir, ...['gate-agent.db', 'gate-agent.db-wal', 'gate-agent.db-shm'].map((f) => `${ctx.dataDir}/${f}`)]
    .filter((p) => existsSync(p))
    .filter((p) => statSync(p).uid !== uid);
  if (wrong.length === 0) return ok('data owner', `${ctx.dataDir} and its database belong to this user`);
  return fail('data owner', `${wrong.join(', ')} belong(s) to uid ${statSync(wrong[0]!).uid}, not this user (uid ${uid}); the gate cannot write there. Run \`sudo chown -R $(id -un) ${ctx.dataDir}\` (commands on the gate: \`sudo -u gate-agent gate-agent …\`)`);
}

/** The API port is free (when the endpoint is on): a busy port would leave the API down. */
async function apiPort(ctx: DoctorContext): Promise<CheckResult | null> {
  const a = ctx.config.api;
  if (!a.enabled) return null;
  const err = await new Promise<string | null>((resolve) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    s.listen(a.port, a.host, () => s.close(() => resolve(null)));
  });
  return err
    ? fail('api port', `${a.host}:${a.port}: cannot listen (${err}${err === 'EADDRINUSE' ? ': another program, or a running gate-agent, uses it' : ''}); change api.port or stop the other program`)
    : ok('api port', `${a.host}:${a.port} is free`);
}

/** The newest wall-clock time this gate has recorded (decisions, entries, commands), or null. */
function newestRecordMs(ctx: DoctorContext): number | null {
  if (!existsSync(`${ctx.dataDir}/gate-agent.db`)) return null;
  // Read-only and without the store key: these columns are plain times.
  const db = new BetterSqlite3(`${ctx.dataDir}/gate-agent.db`, { readonly: true, fileMustExist: true });
  try {
    const r = db
      .prepare('SELECT MAX(t) AS t FROM (SELECT MAX(created_ms) AS t FROM outbox UNION ALL SELECT MAX(entered_at) FROM gate_entries UNION ALL SELECT MAX(received_ms) FROM command_requests)')
      .get() as { t: number | null };
    return r.t;
  } finally {
    db.close();
  }
}

/** The central server's clock from its HTTP Date header, or null when it cannot be asked. */
async function serverClockMs(url: string | null, timeoutMs: number): Promise<number | null> {
  if (!url) return null;
  try {
    const res = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) });
    const date = res.headers.get('date');
    return date ? Date.parse(date) : null;
  } catch {
    return null;
  }
}

/**
 * A wrong clock in either direction: behind the install time or behind times this gate
 * already recorded (it went back: a Pi without RTC before NTP), or minutes off the central
 * server's clock. Event windows, cooldowns and TLS certificates depend on it.
 */
async function clock(ctx: DoctorContext): Promise<CheckResult> {
  const now = Date.now();
  const iso = isoWithOffset;
  const installedAt = statSync(PACKAGE_JSON).mtimeMs;
  if (now < installedAt - 86_400_000) return fail('clock', `the system clock says ${iso(now)}, before this agent was installed (${iso(installedAt)}); check NTP (\`timedatectl\`)`);
  let newest: number | null = null;
  try {
    newest = newestRecordMs(ctx);
  } catch {
    /* the database check reports it */
  }
  if (newest !== null && newest > now + 10 * 60_000) return fail('clock', `the system clock says ${iso(now)}, but this gate recorded ${iso(newest)}: the clock went back (or was far ahead then); check NTP (\`timedatectl\`)`);
  const server = await serverClockMs(ctx.config.sync.baseUrl, ctx.timeoutMs ?? 3000);
  if (server !== null && Math.abs(server - now) > 2 * 60_000) {
    return fail('clock', `the system clock says ${iso(now)}, the central server ${iso(server)} (${Math.round((now - server) / 1000)} s off); check NTP (\`timedatectl\`)`);
  }
  return ok('clock', `${iso(now)}${server !== null ? ` (within 2 min of the central server)` : ''}`);
}

export async function runChecks(ctx: DoctorContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [ok('config', ctx.configFile ? `${ctx.configFile} is valid` : 'no config file: embedded defaults')];
  out.push(await models(ctx));
  out.push(...store(ctx));
  out.push(camera(ctx));
  out.push(relay(ctx));
  out.push(...files(ctx));
  const own = ownership(ctx);
  if (own) out.push(own);
  const port = await apiPort(ctx);
  if (port) out.push(port);
  out.push(await broker(ctx));
  out.push(await network('central server', ctx.config.sync.baseUrl, 'sync.baseUrl not set: attendees come from local enrollment only', ctx));
  out.push(await clock(ctx));
  return out;
}
