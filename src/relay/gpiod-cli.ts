// Command lines for libgpiod's tools, as pure functions. The v1 and v2 tools
// differ in almost every flag (v2 dropped --mode, added -c/-t), and a Pi 5 on
// Bookworm has v1.6 while Trixie ships v2, so both are built here.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export type GpiodMajor = 1 | 2;

export interface LineSpec {
  chip: string;
  line: number;
  activeLow: boolean;
}

/** "gpioset (libgpiod) v1.6.3" -> 1, "gpioset (libgpiod) v2.1" -> 2. */
export function parseGpiodVersion(text: string): GpiodMajor | null {
  const m = /libgpiod\)?\s+v?(\d+)\./.exec(text);
  if (!m) return null;
  const major = Number(m[1]);
  return major === 1 || major === 2 ? major : null;
}

export function detectGpiodVersion(binDir: string): GpiodMajor {
  const r = spawnSync(join(binDir, 'gpioset'), ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (r.error) throw new Error(`relay: cannot run ${join(binDir, 'gpioset')}: ${r.error.message}`);
  const v = parseGpiodVersion(`${r.stdout}${r.stderr}`);
  if (v === null) throw new Error(`relay: unknown gpioset version: ${r.stdout.trim()}`);
  return v;
}

const low = (s: LineSpec): string[] => (s.activeLow ? ['-l'] : []);

/** Sets the line and keeps it until SIGTERM. */
export function holdArgs(v: GpiodMajor, s: LineSpec, value: 0 | 1): string[] {
  return v === 1 ? ['--mode=signal', ...low(s), s.chip, `${s.line}=${value}`] : ['-c', s.chip, ...low(s), `${s.line}=${value}`];
}

/** Sets the line and exits at once (the value then persists only by driver grace). */
export function setOnceArgs(v: GpiodMajor, s: LineSpec, value: 0 | 1): string[] {
  return v === 1 ? [...low(s), s.chip, `${s.line}=${value}`] : ['-c', s.chip, ...low(s), '-t0', `${s.line}=${value}`];
}

/**
 * Energises for `ms` inside gpioset itself. v2 toggles back to inactive before
 * it exits; v1 can only sleep and exit, so the holder started right after it
 * in ownerScript() drives the line inactive.
 */
export function timedArgs(v: GpiodMajor, s: LineSpec, ms: number): string[] {
  const whole = Math.max(1, Math.round(ms));
  if (v === 2) return ['-c', s.chip, ...low(s), '-t', `${whole}ms,0`, `${s.line}=1`];
  // v1 hands --usec to select(), which rejects 1e6 and more: split it.
  return ['--mode=time', `--sec=${Math.floor(whole / 1000)}`, `--usec=${(whole % 1000) * 1000}`, ...low(s), s.chip, `${s.line}=1`];
}

export function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

const cmd = (bin: string, args: string[]): string => [bin, ...args].map(shellQuote).join(' ');

/**
 * The sh script that owns the line: optionally a timed pulse, then a holder
 * keeping the line inactive. It ends the pulse without the agent, and when
 * the agent dies (its stdin pipe closes) it stops the holder, so the line is
 * left inactive and released. Run in its own process group.
 */
export function ownerScript(v: GpiodMajor, s: LineSpec, binDir: string, pulseMs: number | null): string {
  const gpioset = join(binDir, 'gpioset');
  return [
    // stderr is a pipe to the agent: once the agent is dead a write there
    // would kill the script by SIGPIPE before it drives the line inactive.
    "trap '' PIPE",
    // "pulsed" tells the agent the line was really driven for the whole pulse.
    pulseMs === null ? '' : `${cmd(gpioset, timedArgs(v, s, pulseMs))} || exit 1\necho pulsed`,
    `${cmd(gpioset, holdArgs(v, s, 0))} &`,
    'h=$!',
    'read _ || true',
    'kill "$h" 2>/dev/null',
    'wait "$h"',
    // The holder may have been killed before it set the line (agent died
    // right at the pulse end): leave the line inactive on the way out.
    `${cmd(gpioset, setOnceArgs(v, s, 0))}`,
  ]
    .filter((l) => l !== '')
    .join('\n');
}

/** Forces the line inactive and exits; retried because a just-killed owner may still hold it. */
export function offScript(v: GpiodMajor, s: LineSpec, binDir: string, tries = 50): string {
  return `n=0; until ${cmd(join(binDir, 'gpioset'), setOnceArgs(v, s, 0))} 2>/dev/null; do n=$((n+1)); [ "$n" -ge ${tries} ] && exit 1; sleep 0.01; done`;
}

/** Reads the raw level (no -l: polarity is applied by the caller). */
export function getArgs(v: GpiodMajor, chip: string, line: number): string[] {
  return v === 1 ? [chip, String(line)] : ['-c', chip, '--numeric', String(line)];
}

/** Prints one edge per line as a number (see parseEdge). */
export function monitorArgs(v: GpiodMajor, chip: string, line: number): string[] {
  return v === 1 ? ['-b', '-F', '%e', chip, String(line)] : ['-c', chip, '-F', '%e', String(line)];
}

/** The raw level after an edge printed by gpiomon -F %e: v1 1/0, v2 1 rising / 2 falling. */
export function parseEdge(v: GpiodMajor, text: string): 0 | 1 | null {
  const t = text.trim();
  if (t === '1') return 1;
  if ((v === 1 && t === '0') || (v === 2 && t === '2')) return 0;
  return null;
}
