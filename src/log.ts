// One logger for the whole agent: JSON lines on stderr (journald keeps them), or on a
// terminal one readable line each (GATE_AGENT_LOG_FORMAT=pretty|json overrides the choice);
// a child per module so every line says where it came from. Debug lines are
// lazy: pino skips the formatting work when the level is above debug. When stderr is the
// journal (systemd sets JOURNAL_STREAM), each line starts with its syslog priority, `<3>`
// for an error (sd-daemon(3)), so `journalctl -p err` shows the errors.
import { fstatSync, writeSync } from 'node:fs';
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

/** Syslog priority of a pino level: fatal 2 (crit), error 3, warn 4, info 6, debug and trace 7. */
export function syslogPriority(level: number): number {
  return level >= 60 ? 2 : level >= 50 ? 3 : level >= 40 ? 4 : level >= 30 ? 6 : 7;
}

/** One line as journald's stream reader takes it: `<priority>` then the line (pure). */
export function journalLine(json: string, formatted: string): string {
  const level = Number(/"level":(\d+)/.exec(json)?.[1] ?? 30);
  return `<${syslogPriority(level)}>${formatted}`;
}

/**
 * Whether fd 2 is the journal stream systemd connected: JOURNAL_STREAM holds its
 * device:inode, checked against fd 2 so a child whose stderr was redirected elsewhere
 * does not prefix its lines (systemd.exec(5), "JOURNAL_STREAM").
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const st = fstatSync(2);
    return String(st.dev) === m[1] && String(st.ino) === m[2];
  } catch {
    return false;
  }
}

const format = process.env.GATE_AGENT_LOG_FORMAT ?? (process.stderr.isTTY ? 'pretty' : 'json');
const toJournal = stderrIsJournal();
const render = (line: string): string => (format === 'pretty' ? prettyLine(line) : line);
const destination: DestinationStream =
  format === 'pretty' || toJournal ? { write: (line: string) => void writeSync(2, toJournal ? journalLine(line, render(line)) : render(line)) } : pino.destination({ fd: 2, sync: true });

/** `<priority>` to start a plain stderr line with when stderr is the journal, else ''. */
export function journalPrefix(priority: number): string {
  return toJournal ? `<${priority}>` : '';
}

export const rootLogger: Logger = pino({ level, redact, base: { app: 'gate-agent' } }, destination);

export function logger(module: string): Logger {
  return rootLogger.child({ module });
}

export type { Logger };
