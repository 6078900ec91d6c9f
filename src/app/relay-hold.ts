// The relay, held for the gate's lifetime: the lock first (one process drives the line;
// `relay test` refuses while it is held), then the driver and its fail-safe, before
// anything else can fail, so the line is never left energised.
import type { Config } from '../config/types.js';
import { logger } from '../log.js';
import { acquireRelayLock, createRelay, installRelayFailSafe, type Relay } from '../relay/index.js';
import { onReloadSignal } from '../service/reload-signal.js';

const log = logger('daemon');

export interface RelayHold {
  relay: Relay;
  /** Removes the fail-safe and the SIGHUP handler. */
  removeFailSafe(): void;
  releaseLock(): void;
}

/** SIGHUP is not a stop here: it calls `reload` (service/reload-signal.ts). */
export function holdRelay(config: Config, dataDir: string, reload: () => string[]): RelayHold {
  const releaseLock = acquireRelayLock(dataDir, 'gate-agent run');
  try {
    const relay = createRelay(config.relay);
    const offFailSafe = installRelayFailSafe(relay, { signals: ['SIGTERM', 'SIGINT'] });
    const offReload = onReloadSignal(reload, log);
    return {
      relay,
      removeFailSafe: () => {
        offFailSafe();
        offReload();
      },
      releaseLock,
    };
  } catch (err) {
    releaseLock();
    throw err;
  }
}
