// onnxruntime-node 1.30 dies with SIGSEGV when it creates its first session in a process
// whose command line is longer than about 28.9 KB (measured here: /proc/self/cmdline of
// 28,950 bytes works, 28,960 crashes, whatever the environment's size; no upstream issue
// found). `gate-agent embed` with ~400 photo paths is enough. Commands that take many
// images check the length before they create any session and ask for a folder or a
// list file instead of crashing.
import { readFileSync } from 'node:fs';
import { UsageError } from './format.js';

/** Bytes of command line accepted, with a margin below the measured crash. */
export const MAX_COMMAND_LINE_BYTES = 24_000;

/** The process's command line in bytes as the kernel holds it (NUL-separated). */
export function commandLineBytes(): number {
  try {
    return readFileSync('/proc/self/cmdline').length;
  } catch {
    // No procfs (macOS): the same count from what node was given.
    return [process.argv0, ...process.execArgv, ...process.argv.slice(1)].reduce((n, a) => n + Buffer.byteLength(a) + 1, 0);
  }
}

/** The problem with a command line of `bytes`, or null when it is short enough (pure). */
export function commandLineProblem(bytes: number, hint: string, limit = MAX_COMMAND_LINE_BYTES): string | null {
  if (bytes <= limit) return null;
  return `command line is ${bytes} bytes, over the ${limit} this program accepts (onnxruntime crashes on long ones); ${hint}`;
}

export class CommandLineTooLong extends UsageError {
  readonly code = 'command_line_too_long';
}

/** Throws a one-line CommandLineTooLong when this process's command line is too long. */
export function assertCommandLineFits(hint: string): void {
  const problem = commandLineProblem(commandLineBytes(), hint);
  if (problem) throw new CommandLineTooLong(problem);
}
