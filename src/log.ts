// One logger for the whole agent: JSON lines on stderr (journald keeps them), or on a
// terminal one readable line each (GATE_AGENT_LOG_FORMAT=pretty|json overrides the choice);
// a child per module so every line says where it came from. Debug lines are
// lazy: pino skips the formatting work when the level is above debug.
import { writeSync } from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';
import { isoWithOffset } from './clock.js';

const level = process.env.GATE_AGENT_LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info');

// Keys that must never reach a log line, wherever they are nested one level down.
const redact = {
  paths: ['embedding', '*.embedding', 'apiKey', '*.apiKey', 'key', '*.key', 'kyc', '*.kyc', 'password', '*.password'],
  censor: '[redacted]',
};

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const NOT_FIELDS = new Set(['level', 'time', 'msg', 'module', 'pid', 'hostname', 'app']);

/** One pino JSON line as `HH:MM:SS.mmm+01:00 LEVEL module: message key=value`. */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof o.time === 'number' ? isoWithOffset(o.time).slice(11) : '';
  const level = LEVELS[o.level as number] ?? String(o.level);
  const fields = Object.entries(o)
    .filter(([k]) => !NOT_FIELDS.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`);
  return `${time} ${level.padEnd(5)} ${typeof o.module === 'string' ? `${o.module}: ` : ''}${typeof o.msg === 'string' ? o.msg : ''}${fields.length ? ` ${fields.join(' ')}` : ''}\n`;
}

const format = process.env.GATE_AGENT_LOG_FORMAT ?? (process.stderr.isTTY ? 'pretty' : 'json');
const destination: DestinationStream = format === 'pretty' ? { write: (line: string) => void writeSync(2, prettyLine(line)) } : pino.destination({ fd: 2, sync: true });

export const rootLogger: Logger = pino({ level, redact, base: { app: 'gate-agent' } }, destination);

export function logger(module: string): Logger {
  return rootLogger.child({ module });
}

export type { Logger };
