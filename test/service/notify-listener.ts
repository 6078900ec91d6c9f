// systemd's side of sd_notify for tests: a python3 listener on a unix SOCK_DGRAM socket
// that prints every datagram as one JSON line. recv() drops the barrier fd that
// systemd-notify passes, which is what releases it, as systemd's close does.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { own } from '../proc.js';

const LISTENER = `
import socket, sys, json
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    print(json.dumps(s.recv(4096).decode()), flush=True)
`;

export interface NotifyListener {
  /** Every datagram received so far, in order. */
  messages: string[];
  process: ChildProcess;
}

/** Listens on `socket` (a path) once this resolves; the process is owned by `t` when given. */
export async function startNotifyListener(socket: string, t?: { after(fn: () => unknown): void }): Promise<NotifyListener> {
  const py = own(spawn('python3', ['-c', LISTENER, socket], { stdio: ['ignore', 'pipe', 'inherit'] }), t);
  const messages: string[] = [];
  const lines = createInterface({ input: py.stdout! });
  await new Promise<void>((resolve, reject) => {
    py.once('exit', () => reject(new Error('the notify listener exited')));
    lines.on('line', (l) => (l === 'listening' ? resolve() : messages.push(JSON.parse(l) as string)));
  });
  return { messages, process: py };
}
