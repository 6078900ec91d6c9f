// Process-level fail-secure hooks. Installed by the daemon right after the
// relay is built, before anything else can throw: whatever ends the process,
// the door strike is de-energised first.
import { logger } from '../log.js';
import type { Relay } from './types.js';

const log = logger('relay');

export interface FailSafeOptions {
  /** Signals to de-energise on. Default SIGTERM, SIGINT, SIGHUP. */
  signals?: NodeJS.Signals[];
  /** Injected for tests; default process.exit. */
  exit?: (code: number) => void;
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/**
 * De-energises the relay on the given signals, on an uncaught exception (or
 * unhandled rejection, which Node raises as one) and on exit. The listeners
 * are prepended so they run before any graceful-shutdown handler. A signal
 * with no other listener exits with 128+signo as the default action would;
 * otherwise the other listener (service/shutdown.ts) decides. Returns a
 * function that removes every listener.
 */
export function installRelayFailSafe(relay: Pick<Relay, 'safe'>, opts: FailSafeOptions = {}): () => void {
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT', 'SIGHUP'];
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const safe = (why: string): void => {
    try {
      relay.safe();
    } catch (err) {
      log.error({ err, why }, 'relay.safe() threw');
    }
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    safe(signal);
    log.warn({ signal }, 'signal: relay de-energised');
    if (process.listenerCount(signal) === 1) exit(128 + (SIGNAL_NUMBERS[signal] ?? 0));
  };
  const onUncaught = (err: Error): void => {
    safe('uncaughtException');
    log.fatal({ err }, 'uncaught exception: relay de-energised, exiting');
    // Running on after an unknown fault with a door strike attached is worse
    // than a restart by systemd.
    exit(70);
  };
  const onExit = (): void => safe('exit');

  for (const s of signals) process.prependListener(s, onSignal);
  process.prependListener('uncaughtException', onUncaught);
  process.prependListener('exit', onExit);
  return () => {
    for (const s of signals) process.off(s, onSignal);
    process.off('uncaughtException', onUncaught);
    process.off('exit', onExit);
  };
}
