// Run the real `gate-agent` executable, as a technician would.
import { spawn } from 'node:child_process';
import { BIN, SHARED_MODELS } from '../paths.js';
import { own } from '../proc.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}, input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = own(spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, GATE_AGENT_MODELS_DIR: SHARED_MODELS, GATE_AGENT_LOG_LEVEL: 'warn', ...env },
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
