#!/usr/bin/env node
// Runs every compiled test file with node's built-in runner (Node 20 has no glob support
// in --test, so the file list is built here), after checking that the programs the tests
// drive are installed. No test can hang the run: each test has a timeout, the runner is
// told to exit when the tests are done, the whole run has a deadline, and every process
// the run started (daemons, brokers, ffmpeg) is killed at the end, whatever happened.
//
//   node scripts/run-tests.js [--check] [--clock=+365d] [name-filter…]
//
// --check only checks that the programs the tests need are installed (npm test does this
// first, so a missing package stops it at once). --clock runs the tests with the process
// clock moved (libfaketime), children included: the suite must pass on any date.
// Test files run two at a time (GATE_AGENT_TEST_JOBS), each in its own process; the few
// that hold a timing as behaviour (SERIAL below) run afterwards, one at a time.
import { readdirSync, statSync, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawn } from 'node:child_process';

const TEST_TIMEOUT_MS = Number(process.env.GATE_AGENT_TEST_TIMEOUT_MS ?? 180_000);
const RUN_DEADLINE_MS = Number(process.env.GATE_AGENT_TEST_DEADLINE_MS ?? 20 * 60_000);
/** Test files run at once, each in its own process (the files in SERIAL always alone). */
const JOBS = Number(process.env.GATE_AGENT_TEST_JOBS ?? 2);
/**
 * Files that hold a timing as behaviour (a relay pulse's length within 150 ms, a camera's
 * frame rate, a latency under attack against calm, frames a replay drops, one run's loop
 * stalls against another's): they run after the others, one at a time, so that another
 * test file's CPU load cannot move what they measure.
 */
const SERIAL = ['/relay/', '/cli/camera-cli.', '/app/daemon-hostile.', '/app/liveness.', '/vision/worker-pipeline.', '/fleet/bridge.', '/match/gallery-load.'];

const args = process.argv.slice(2);
const checkOnly = args.includes('--check');
const clock = args.find((a) => a.startsWith('--clock='))?.slice('--clock='.length) ?? null;
const filter = args.filter((a) => !a.startsWith('--'));

// What the tests drive for real, and the Debian package that brings each.
const NEEDED = [
  ['ffmpeg', 'ffmpeg'],
  ['ffprobe', 'ffmpeg'],
  ['fswebcam', 'fswebcam'],
  ['mosquitto', 'mosquitto'],
  ['mosquitto_passwd', 'mosquitto'],
  ['mosquitto_sub', 'mosquitto-clients'],
  ['gpioset', 'gpiod'],
  ['systemd-notify', 'systemd'],
  ['systemd-analyze', 'systemd'],
  ['openssl', 'openssl'],
  ['python3', 'python3'],
  ['unshare', 'util-linux'],
  ['faketime', 'faketime'],
];
const PATH_DIRS = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
const onPath = (cmd) => PATH_DIRS.some((d) => d && existsSync(join(d, cmd)));
const missing = NEEDED.filter(([cmd]) => !onPath(cmd));
if (missing.length) {
  const pkgs = [...new Set(missing.map(([, p]) => p))];
  console.error(
    `npm test: missing ${missing.map(([c]) => c).join(', ')}; the tests drive these programs for real. ` +
      `Install them with: sudo apt-get install -y ${pkgs.join(' ')}`,
  );
  process.exit(1);
}
if (checkOnly) process.exit(0);

const root = new URL('../dist/test/', import.meta.url).pathname;
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js') && (filter.length === 0 || filter.some((f) => p.includes(f)))) files.push(p);
  }
})(root);
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/test (did the build run?)');
  process.exit(1);
}

// The clock is moved by preloading libfaketime directly, not through the `faketime`
// wrapper: the wrapper shares its state through a semaphore in /dev/shm, and a process
// killed while holding it (the tests SIGKILL daemons, ffmpeg and decode workers on
// purpose) leaves every later process blocked at start. With FAKETIME set and no shared
// state, each process computes the same fixed offset on its own.
const env = clock ? { ...process.env, LD_PRELOAD: fakeTimeLibrary(), FAKETIME: clock, FAKETIME_DISABLE_SHM: '1' } : process.env;
if (clock) console.log(`run-tests: process clock moved ${clock} (libfaketime)`);
const started = performance.now();
const serial = files.filter((f) => SERIAL.some((s) => f.includes(s)));
const parallel = files.filter((f) => !serial.includes(f));
let current = null;
const deadline = setTimeout(() => {
  console.error(`run-tests: the run passed its ${RUN_DEADLINE_MS / 60_000} min deadline; killing it`);
  if (current) killGroup(current.pid);
  process.exit(1);
}, RUN_DEADLINE_MS);
const forward = (sig) => process.on(sig, () => { if (current) killGroup(current.pid); process.exit(1); });
forward('SIGINT');
forward('SIGTERM');

let failed = false;
if (parallel.length) failed = (await runFiles(parallel, JOBS)) !== 0 || failed;
if (serial.length) failed = (await runFiles(serial, 1)) !== 0 || failed;
clearTimeout(deadline);
const secs = ((performance.now() - started) / 1000).toFixed(1);
console.log(`run-tests: ${files.length} test file(s) in ${secs} s wall time (${parallel.length} of them ${JOBS} at a time, then ${serial.length} alone)${clock ? ` (clock ${clock})` : ''}${failed ? ': FAILED' : ''}`);
process.exit(failed ? 1 : 0);

/** Runs `list` with node's test runner, `jobs` files at a time; resolves with its exit code. */
function runFiles(list, jobs) {
  const nodeArgs = ['--test', `--test-concurrency=${jobs}`, `--test-timeout=${TEST_TIMEOUT_MS}`, '--test-force-exit', ...list];
  // Its own process group, so that everything the tests start can be found and killed.
  const child = spawn(process.execPath, nodeArgs, { stdio: 'inherit', detached: true, env });
  current = child;
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      const left = groupMembers(child.pid);
      if (left.length) console.error(`run-tests: ${left.length} process(es) left behind, killed: ${left.map((p) => `${p.pid} ${p.cmd}`).join('; ')}`);
      killGroup(child.pid);
      current = null;
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/** libfaketime.so.1 from the faketime package, wherever the architecture puts it. */
function fakeTimeLibrary() {
  const dirs = ['/usr/lib/faketime', '/usr/local/lib/faketime', ...readdirSync('/usr/lib').map((d) => join('/usr/lib', d, 'faketime'))];
  const lib = dirs.map((d) => join(d, 'libfaketime.so.1')).find((f) => existsSync(f));
  if (!lib) {
    console.error('run-tests: --clock needs libfaketime.so.1 (apt-get install faketime); not found under /usr/lib');
    process.exit(1);
  }
  return lib;
}

function killGroup(pgid) {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    /* the group is empty */
  }
}

/** Processes still in the process group pgid, from /proc. */
function groupMembers(pgid) {
  const out = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command (which may contain spaces) in parentheses: state ppid pgrp …
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && rest[0] !== 'Z') out.push({ pid: Number(pid), cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim().slice(0, 80) });
    } catch {
      /* gone */
    }
  }
  return out;
}
