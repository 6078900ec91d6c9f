// SIGHUP re-reads the config (the systemd convention: `systemctl reload gate-agent` runs
// ExecReload=/bin/kill -HUP $MAINPID, and `gate-agent config set` sends it too). A bad file
// is logged and the daemon keeps the config it runs with.
import type { Logger } from '../log.js';
import { errorText } from '../errors.js';

export const RELOAD_SIGNAL = 'SIGHUP';

/** Calls `reload` on every SIGHUP; returns the function that stops listening. */
export function onReloadSignal(reload: () => string[], log: Logger): () => void {
  const handler = (): void => {
    try {
      reload();
    } catch (err) {
      log.error({ err: errorText(err) }, 'config reload failed: the daemon keeps running with its current config');
    }
  };
  process.on(RELOAD_SIGNAL, handler);
  return () => process.off(RELOAD_SIGNAL, handler);
}
