// One process drives a relay line at a time: the daemon takes this lock for as long as it
// runs, and `gate-agent relay test` refuses to pulse while another live process holds it.
// A pid file (not flock: Node has none) in the data dir; a stale one (dead pid) is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class RelayLockedError extends Error {
  override name = 'UsageError';
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** The pid holding the lock in `dir`, if that process is alive. */
export function relayLockHolder(dir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dir, 'relay.lock'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : null;
  } catch {
    return null;
  }
}

/** Takes the lock for this process; returns its release. Throws when a live process holds it. */
export function acquireRelayLock(dir: string, what: string): () => void {
  const holder = relayLockHolder(dir);
  if (holder !== null) {
    throw new RelayLockedError(`${what}: the relay line is held by another gate-agent process (pid ${holder}); stop it first (\`sudo systemctl stop gate-agent\`) and try again`);
  }
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'relay.lock');
  writeFileSync(file, `${process.pid}\n`);
  return () => {
    try {
      if (Number(readFileSync(file, 'utf8').trim()) === process.pid) rmSync(file, { force: true });
    } catch {
      /* gone already */
    }
  };
}
