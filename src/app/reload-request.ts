// Telling a running daemon to re-read its config after `gate-agent config set`: its pid
// comes from <dataDir>/status.json (app/status.ts), which it rewrites every second, and it
// is sent SIGHUP (service/reload-signal.ts).
import { RELOAD_SIGNAL } from '../service/reload-signal.js';
import { readStatus } from './status.js';
import { errorText } from '../errors.js';

export type ReloadRequest = { sent: true; pid: number; configFile: string | null } | { sent: false; reason: string };

export function requestReload(dataDir: string, nowMs: number, kill: (pid: number, signal: NodeJS.Signals) => void = (pid, s) => process.kill(pid, s)): ReloadRequest {
  const r = readStatus(dataDir, nowMs);
  if (!r.ok) return { sent: false, reason: r.problem };
  const { pid } = r.snapshot;
  try {
    kill(pid, RELOAD_SIGNAL);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPERM') return { sent: false, reason: `not allowed to signal the daemon (pid ${pid}, another user's process); run \`sudo systemctl reload gate-agent\`` };
    return { sent: false, reason: `cannot signal the daemon (pid ${pid}): ${errorText(err)}` };
  }
  return { sent: true, pid, configFile: r.snapshot.configFile ?? null };
}
