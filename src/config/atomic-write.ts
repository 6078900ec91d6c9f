// A config file is replaced whole or not at all: written to a temporary file beside it,
// flushed, then renamed over it (or linked into place when it must not exist yet), so a
// power cut or a full disk never leaves half a config for the daemon to start with.
import { chownSync, closeSync, fchmodSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** Replace an existing file; without it an existing file is an error (EEXIST). */
  overwrite: boolean;
  /** Permission bits of a new file; an existing file keeps its own (and its owner). */
  mode?: number;
}

export function writeFileAtomic(file: string, text: string, o: AtomicWriteOptions): void {
  mkdirSync(dirname(file), { recursive: true });
  let old: { mode: number; uid: number; gid: number } | null = null;
  try {
    old = statSync(file);
  } catch {
    // A new file.
  }
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    // Not left to the umask: a config may hold a broker password.
    fchmodSync(fd, old ? old.mode & 0o7777 : (o.mode ?? 0o640));
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    if (old && process.geteuid?.() === 0) chownSync(tmp, old.uid, old.gid);
    // link() fails if the file appeared meanwhile: never overwrite without being asked.
    if (o.overwrite) renameSync(tmp, file);
    else linkSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
  // The rename itself is durable once the folder is flushed.
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
