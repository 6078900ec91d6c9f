// Run the real `gate-agent` executable, as a technician would.
import { spawn } from 'node:child_process';
import { BIN, SHARED_MODELS } from '../paths.js';
import { own } from '../proc.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `env`: added to the test's environment; a variable given as undefined is removed. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, input?: string): Promise<RunResult> {
  const merged: Record<string, string | undefined> = { ...process.env, GATE_AGENT_MODELS_DIR: SHARED_MODELS, GATE_AGENT_LOG_LEVEL: 'warn', ...env };
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  return new Promise((resolve, reject) => {
    const child = own(spawn(process.execPath, [BIN, ...args], {
      env: merged,
      stdio: ['pipe', 'pipe', 'pipe'],
    }));
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

export const jsonLines = (s: string): Record<string, unknown>[] => s.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
