// Commands run as root on an installed gate would create root-owned files in the data
// folder, and the service (user gate-agent) then cannot open its own database. Such a run is
// refused before anything is written, with the command to run instead.
import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { UsageError } from './format.js';

/** The nearest existing folder at or above `dir` and its owner's uid. */
function ownerOfNearest(dir: string): { dir: string; uid: number } | null {
  for (let d = dir; ; d = dirname(d)) {
    try {
      return { dir: d, uid: statSync(d).uid };
    } catch {
      if (dirname(d) === d) return null;
    }
  }
}

/** A user name from /etc/passwd, or `#uid` (which sudo -u also takes). */
export function userName(uid: number, passwd = '/etc/passwd'): string {
  try {
    for (const line of readFileSync(passwd, 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && id === String(uid)) return name;
    }
  } catch {
    // No passwd file: the number works with sudo -u too.
  }
  return `#${uid}`;
}

const shellWord = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** Why running as `euid` on `dataDir` is wrong, with the right command; null when fine (pure but for stat). */
export function wrongUserProblem(euid: number, dataDir: string, argv: readonly string[]): string | null {
  if (euid !== 0) return null;
  const owner = ownerOfNearest(dataDir);
  if (!owner || owner.uid === 0) return null;
  const name = userName(owner.uid);
  return `refusing to run as root: ${owner.dir} belongs to ${name}, and files root creates there would lock the service out of its own data. Run it as ${name}: sudo -u ${shellWord(name)} gate-agent ${argv.map(shellWord).join(' ')}`;
}

export class WrongUserError extends UsageError {}

export function assertRightUser(dataDir: string, argv: readonly string[] = process.argv.slice(2)): void {
  const problem = wrongUserProblem(process.geteuid?.() ?? -1, dataDir, argv);
  if (problem) throw new WrongUserError(problem);
}
