// One ffmpeg process writing MJPEG to stdout, cut into frames. close() is SIGTERM, then
// SIGKILL after a grace period, and resolves only once the process has been reaped, so a
// stopped source never leaves an ffmpeg behind. ffmpeg also exits by itself (EPIPE) if
// the daemon dies hard, because its stdout pipe closes.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';
import { JpegSplitter } from './jpeg-splitter.js';
import { RawFrameSplitter } from './raw-splitter.js';
import type { RawFrameSize } from './types.js';
import { redactUrl } from './options.js';
import type { CaptureSession, SessionEnd, SessionSink } from './supervisor.js';

export interface FfmpegSessionOptions {
  ffmpegPath: string;
  args: string[];
  killGraceMs: number;
  /** A replay that reaches its end exits 0 on purpose; a live camera never should. */
  exitZeroIsEnd: boolean;
  /** Raw RGB frames of this size on stdout; null: MJPEG. */
  raw: RawFrameSize | null;
  log: Logger;
}

const STDERR_KEEP_CHARS = 2000;

/** Last lines of ffmpeg's stderr with credentials removed: the reason shown for a failure. */
function tail(stderr: string): string {
  return redactUrl(stderr.trim().split('\n').slice(-3).join(' | '));
}

export function openFfmpegSession(o: FfmpegSessionOptions, sink: SessionSink): CaptureSession {
  const proc: ChildProcess = spawn(o.ffmpegPath, o.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const raw = o.raw;
  const splitter = raw ? new RawFrameSplitter(raw.widthPx * raw.heightPx * 3) : new JpegSplitter();
  let stderr = '';
  let closing = false;
  let resolveDone!: (end: SessionEnd) => void;
  const done = new Promise<SessionEnd>((r) => (resolveDone = r));
  let settled = false;
  const finish = (end: SessionEnd): void => {
    if (settled) return;
    settled = true;
    resolveDone(end);
  };
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    // A spawn failure (ffmpeg not installed) emits 'error' and maybe no 'exit'.
    proc.once('error', () => resolve());
  });

  // Arguments are logged redacted: an rtsp URL carries the camera's password.
  o.log.debug({ pid: proc.pid, cmd: redactUrl([o.ffmpegPath, ...o.args].join(' ')) }, 'ffmpeg started');
  proc.stdout?.on('data', (chunk: Buffer) => {
    for (const data of splitter.push(chunk)) sink.frame(data, raw ?? undefined);
  });
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEEP_CHARS);
  });
  proc.once('error', (err: NodeJS.ErrnoException) => {
    const hint = err.code === 'ENOENT' ? `${o.ffmpegPath} not found; install ffmpeg (apt install ffmpeg) or set ffmpegPath` : err.message;
    finish({ kind: 'failed', reason: hint });
  });
  // 'close' waits for stdout to drain, so the last frames of a replay are delivered first.
  proc.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
    if (closing) return finish({ kind: 'failed', reason: 'closed' });
    if (code === 0 && o.exitZeroIsEnd) return finish({ kind: 'ended' });
    const how = signal ? `killed by ${signal}` : `exited with code ${String(code)}`;
    const why = tail(stderr);
    finish({ kind: 'failed', reason: `ffmpeg ${how}${why ? `: ${why}` : ''}` });
  });

  const alive = (): boolean => proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined;

  return {
    done,
    pid: proc.pid ?? null,
    async close(): Promise<void> {
      closing = true;
      if (!alive()) return;
      proc.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), o.killGraceMs)));
      try {
        if ((await Promise.race([exited, graceOver])) === 'timeout' && alive()) {
          o.log.warn({ pid: proc.pid, killGraceMs: o.killGraceMs }, 'ffmpeg ignored SIGTERM; sending SIGKILL');
          proc.kill('SIGKILL');
          await exited;
        }
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
