// One logger for the whole agent: JSON lines on stdout (journald keeps them),
// a child per module so every line says where it came from. Debug lines are
// lazy: pino skips the formatting work when the level is above debug.
import { pino, type Logger } from 'pino';

const level = process.env.GATE_AGENT_LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info');

// Keys that must never reach a log line, wherever they are nested one level down.
const redact = {
  paths: ['embedding', '*.embedding', 'apiKey', '*.apiKey', 'key', '*.key', 'kyc', '*.kyc', 'password', '*.password'],
  censor: '[redacted]',
};

export const rootLogger: Logger = pino({ level, redact, base: { app: 'gate-agent' } }, pino.destination({ fd: 2, sync: true }));

export function logger(module: string): Logger {
  return rootLogger.child({ module });
}

export type { Logger };
