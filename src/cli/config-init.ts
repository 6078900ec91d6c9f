// `gate-agent config init`: a first config from flags, or from questions on a terminal.
import type { Command } from 'commander';
import { buildInitConfig, initProblems, initialConfig, PLATFORM_DEFAULTS, PLATFORMS, DEFAULT_DATA_DIR, type InitAnswers, type Platform } from '../config/init.js';
import { writeFileAtomic } from '../config/atomic-write.js';
import { problemPath } from '../config/validate.js';
import { defaultConfigPath } from './config-file.js';
import { action, givenOnCommandLine, jsonErrorsOn } from './common.js';
import { UsageError } from './format.js';
import { terminalPrompter, type Prompter } from './prompt.js';

/** The answers as commander hands them over: strings, the platform not yet checked. */
type InitOptions = Omit<InitAnswers, 'platform' | 'relayLine'> & {
  out?: string;
  platform: string;
  relayLine?: string;
  force?: boolean;
  json?: boolean;
  interactive?: boolean;
};

const ANSWER_FLAGS = ['cameraPath', 'relayDriver', 'relayChip', 'relayLine', 'relayActiveLow', 'broker', 'centralUrl', 'event'] as const;

function lineNumber(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim())) throw new UsageError(`${flag} "${v}" is not a GPIO line number; give the line offset, e.g. 17 for GPIO17 on a Raspberry Pi`);
  return Number(v);
}

function answersFrom(o: InitOptions): InitAnswers {
  if (!PLATFORMS.includes(o.platform as Platform)) throw new UsageError(`--platform "${o.platform}" is not one of ${PLATFORMS.join(', ')}`);
  return {
    platform: o.platform as Platform,
    cameraPath: o.cameraPath,
    relayDriver: o.relayDriver,
    relayChip: o.relayChip,
    relayLine: lineNumber(o.relayLine, '--relay-line'),
    relayActiveLow: o.relayActiveLow,
    broker: o.broker,
    centralUrl: o.centralUrl,
    event: o.event,
    gateId: o.gateId,
    siteId: o.siteId,
    dataDir: o.dataDir,
    modelsDir: o.modelsDir,
  };
}

/** One question per answer; an answer the config refuses is explained and asked again. */
async function interview(a: InitAnswers, p: Prompter): Promise<InitAnswers> {
  const ask = async <K extends keyof InitAnswers>(key: K, configKey: string, question: string, def: string, parse: (s: string) => InitAnswers[K]): Promise<void> => {
    for (;;) {
      let value: InitAnswers[K];
      try {
        value = parse(await p.ask(question, def));
      } catch (err) {
        if (err instanceof UsageError) {
          process.stderr.write(`  ${err.message}\n`);
          continue;
        }
        throw err;
      }
      const problems = initProblems(initialConfig({ ...a, [key]: value })).filter((x) => problemPath(x) === configKey);
      if (problems.length === 0) {
        a[key] = value;
        return;
      }
      for (const x of problems) process.stderr.write(`  ${x}\n`);
    }
  };
  const text = (s: string): string => s;
  const yes = (s: string): boolean => {
    if (/^(y|yes|true|1)$/i.test(s)) return true;
    if (/^(n|no|false|0)$/i.test(s)) return false;
    throw new UsageError(`answer y or n`);
  };
  await ask('platform', 'relay.board', `Platform (${PLATFORMS.join(', ')})`, a.platform, (s) => {
    if (!PLATFORMS.includes(s as Platform)) throw new UsageError(`one of ${PLATFORMS.join(', ')}`);
    return s as Platform;
  });
  const d = PLATFORM_DEFAULTS[a.platform];
  await ask('cameraPath', 'camera.device', 'Camera: a device (/dev/video0), an rtsp:// URL, or a video file / image folder to replay', a.cameraPath ?? d.cameraPath, text);
  await ask('relayDriver', 'relay.driver', 'Relay driver (gpiod, onoff, sim, auto)', a.relayDriver ?? d.relayDriver, text);
  await ask('relayChip', 'relay.chip', 'Relay GPIO chip', a.relayChip ?? d.relayChip, text);
  await ask('relayLine', 'relay.pin', `Relay GPIO line${a.platform === 'raspberry-pi' ? ' (BCM number, e.g. 17 for GPIO17 on physical pin 11)' : ''}`, String(a.relayLine ?? d.relayLine), (s) => lineNumber(s, 'the line'));
  await ask('relayActiveLow', 'relay.activeLow', 'Does the relay board switch on a LOW level (most opto-isolated boards)? (y/n)', a.relayActiveLow ? 'y' : 'n', yes);
  await ask('broker', 'mqtt.brokerUrl', 'MQTT broker URL (mqtt://, mqtts://, ws://, wss://; empty: results wait in the outbox)', a.broker ?? '', text);
  await ask('centralUrl', 'sync.baseUrl', 'Central server URL (https://…; empty: no sync)', a.centralUrl ?? '', text);
  await ask('event', 'event.id', 'Event id (empty: the current event by schedule)', a.event ?? '', text);
  return a;
}

export function register(config: Command): void {
  config
    .command('init')
    .description('write a first config file: from the flags, or by asking on a terminal (camera, relay, broker, central server, event)')
    .option('--out <file>', `where to write it (default ${defaultConfigPath()})`)
    .option('--platform <name>', `${PLATFORMS.join(', ')}: the relay board and its defaults`, 'raspberry-pi')
    .option('--camera-path <path>', 'camera: /dev/videoN, an rtsp:// URL, or a video file / image folder to replay (default /dev/video0)')
    .option('--relay-driver <driver>', 'gpiod, onoff, sim or auto (default: gpiod on raspberry-pi and jetson, auto otherwise)')
    .option('--relay-chip <chip>', 'GPIO chip of the relay line (default gpiochip0)')
    .option('--relay-line <n>', 'GPIO line of the relay (a BCM number on a Raspberry Pi; default 17)')
    .option('--relay-active-low', 'the relay board switches on a low level (most opto-isolated boards)')
    .option('--broker <url>', 'MQTT broker: mqtt://, mqtts://, ws:// or wss:// (default: none, results wait in the outbox)')
    .option('--central-url <url>', 'central server for attendee sync: https://… (default: none)')
    .option('--event <id>', 'event whose attendees this gate admits (default: the current one by schedule)')
    .option('--gate-id <id>', 'this gate\'s id (default gate-1)')
    .option('--site-id <id>', 'the venue\'s id (default site-1)')
    .option('--data-dir <dir>', `folder for the database and state (default ${DEFAULT_DATA_DIR})`)
    .option('--models-dir <dir>', 'folder holding the model files (default <data-dir>/models)')
    .option('--interactive', 'ask the questions even when stdin is not a terminal')
    .option('--force', 'replace an existing file')
    .option('--json', 'print the written config as JSON')
    .action(
      action(async (opts: InitOptions & { config?: string }, cmd: Command) => {
        // Shared options count only when typed here: GATE_AGENT_DATA_DIR in the shell is no answer.
        const typed = (k: 'config' | 'dataDir' | 'modelsDir'): string | undefined => (givenOnCommandLine(cmd, k) ? opts[k] : undefined);
        const out = opts.out ?? typed('config') ?? defaultConfigPath();
        let answers = answersFrom({ ...opts, dataDir: typed('dataDir'), modelsDir: typed('modelsDir') });
        const given = ANSWER_FLAGS.some((k) => opts[k] !== undefined);
        // On a terminal without answers given as flags: ask, with the flags' values as defaults.
        if (opts.interactive || (process.stdin.isTTY && !given && !jsonErrorsOn())) {
          const p = terminalPrompter();
          try {
            answers = await interview(answers, p);
          } finally {
            p.close();
          }
        }
        const { raw, text } = buildInitConfig(answers, out);
        try {
          writeFileAtomic(out, text, { overwrite: Boolean(opts.force) });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${out} exists; add --force to replace it (or \`gate-agent config set KEY VALUE\` to change one key)`);
          throw err;
        }
        if (opts.json) {
          process.stdout.write(JSON.stringify({ file: out, config: raw }) + '\n');
          return;
        }
        process.stdout.write(`wrote ${out}\nnext: gate-agent --config ${out} doctor\n`);
      }),
    );
}
