// A real mosquitto for tests: temp config on free loopback ports, spawned,
// waited on until it accepts TCP, stopped (and restartable on the same ports).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { own } from './proc.js';
import { errorText } from '../src/errors.js';

export const MOSQUITTO = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface BrokerOptions {
  /** username -> password; when given, anonymous access is refused. */
  users?: Record<string, string>;
  /** Adds an mqtts listener on its own port with these PEM files. */
  tls?: { cafile: string; certfile: string; keyfile: string; requireCertificate?: boolean };
  /** Keep sessions and queued messages across a restart (saved on SIGTERM). */
  persistence?: boolean;
  /** Config lines appended as they are (a bridge `connection` section). */
  extraConfig?: string[];
}

export class Mosquitto {
  readonly dir: string;
  private proc: ChildProcess | null = null;
  private stderr = '';

  private constructor(
    readonly port: number,
    readonly tlsPort: number | null,
    private readonly conf: string,
    dir: string,
  ) {
    this.dir = dir;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get tlsUrl(): string {
    if (this.tlsPort === null) throw new Error('broker has no TLS listener');
    return `mqtts://127.0.0.1:${this.tlsPort}`;
  }

  /**
   * mosquitto cannot listen on port 0 and report the port, so a free port is picked first;
   * if another process takes it in between, the broker fails to bind and is started again
   * on new ports.
   */
  static async launch(opts: BrokerOptions = {}): Promise<Mosquitto> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await Mosquitto.launchOnce(opts);
      } catch (err) {
        if (attempt >= 5 || !/Address already in use/i.test(errorText(err))) throw err;
      }
    }
  }

  private static async launchOnce(opts: BrokerOptions): Promise<Mosquitto> {
    const dir = mkdtempSync(join(tmpdir(), 'sg-mosq-'));
    const port = await freePort();
    const tlsPort = opts.tls ? await freePort() : null;
    const lines = [
      // Running as root in CI: stay root so the broker can read the 0700 temp dir.
      'user root',
      'per_listener_settings false',
      `persistence ${opts.persistence === true ? 'true' : 'false'}`,
      `persistence_location ${dir}/`,
      // Tests publish thousands of QoS 1 messages to one subscriber; the
      // default queue (1000) would drop some at the broker and hide real bugs.
      'max_queued_messages 1000000',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      `listener ${port} 127.0.0.1`,
    ];
    if (tlsPort !== null && opts.tls) {
      lines.push(`listener ${tlsPort} 127.0.0.1`, `cafile ${opts.tls.cafile}`, `certfile ${opts.tls.certfile}`, `keyfile ${opts.tls.keyfile}`);
      if (opts.tls.requireCertificate === true) lines.push('require_certificate true');
    }
    if (opts.users) {
      const pw = join(dir, 'passwd');
      writeFileSync(pw, '');
      for (const [u, p] of Object.entries(opts.users)) {
        const r = spawnSync('mosquitto_passwd', ['-b', pw, u, p], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
      }
      lines.push('allow_anonymous false', `password_file ${pw}`);
    } else {
      lines.push('allow_anonymous true');
    }
    lines.push(...(opts.extraConfig ?? []));
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(conf, lines.join('\n') + '\n');
    const b = new Mosquitto(port, tlsPort, conf, dir);
    try {
      await b.start();
    } catch (err) {
      await b.dispose();
      throw err;
    }
    return b;
  }

  async start(): Promise<void> {
    if (this.proc) return;
    this.stderr = '';
    const proc = own(spawn(MOSQUITTO, ['-c', this.conf], { stdio: ['ignore', 'ignore', 'pipe'] }));
    this.proc = proc;
    proc.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code) => reject(new Error(`mosquitto exited (${code}) during start: ${this.stderr}`))),
    );
    exited.catch(() => undefined);
    const deadline = Date.now() + 5000;
    for (const port of [this.port, ...(this.tlsPort !== null ? [this.tlsPort] : [])]) {
      while (!(await Promise.race([canConnect(port), exited]))) {
        if (Date.now() > deadline) throw new Error(`mosquitto did not accept on ${port}: ${this.stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** SIGSTOP: the broker stops taking and delivering messages at once (synchronous). */
  freeze(): void {
    this.proc?.kill('SIGSTOP');
  }

  /** SIGCONT: a frozen broker runs again. */
  thaw(): void {
    this.proc?.kill('SIGCONT');
  }

  /** SIGTERM and wait; with persistence the broker saves its state on the way out. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGCONT');
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      proc.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stop and remove the temp dir. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
