// Real gates for the fleet tests: `gate-agent run` child processes, each with its own copy
// of an enrolled data dir and a looping image-folder camera that shows an empty entrance
// until the test makes an attendee walk up (the simulated relay: no GPIO here).
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { writeWalkUpFrames } from '../../scripts/walk-up-frames.js';
import type { StatusSnapshot } from '../../src/app/status.js';
import { BIN, SHARED_FACES, SHARED_MODELS } from '../paths.js';
import { own, until } from '../proc.js';

/** Walk-up frames per attendee, from photos other than the enrolled ones. */
export async function walkUps(dir: string, people: Record<string, string>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [userId, photo] of Object.entries(people)) {
    out[userId] = join(dir, `walk-${userId}`);
    await writeWalkUpFrames(join(SHARED_FACES, photo), out[userId], { frames: 8 });
  }
  return out;
}

export class Gate {
  log = '';
  private walks = 0;
  constructor(
    readonly gateId: string,
    readonly dataDir: string,
    readonly frames: string,
    readonly child: ChildProcess,
  ) {
    child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
  }

  /** Starts `gate-agent run` on a copy of `template`; `env` adds GATE_AGENT__ overrides. */
  static async start(t: TestContext, dir: string, template: string, gateId: string, brokerUrl: string, env: Record<string, string> = {}): Promise<Gate> {
    const dataDir = join(dir, gateId, 'data');
    const frames = join(dir, gateId, 'frames');
    await mkdir(frames, { recursive: true });
    await cp(template, dataDir, { recursive: true });
    await writeFile(join(frames, 'a-empty.jpg'), await sharp({ create: { width: 640, height: 480, channels: 3, background: '#202020' } }).jpeg().toBuffer());
    const child = own(
      spawn(process.execPath, [BIN, 'run', '--event', 'gala'], {
        env: {
          ...process.env,
          GATE_AGENT_MODELS_DIR: SHARED_MODELS,
          GATE_AGENT_DATA_DIR: dataDir,
          GATE_AGENT_LOG_LEVEL: 'info',
          GATE_AGENT__siteId: '"s1"',
          GATE_AGENT__gateId: JSON.stringify(gateId),
          GATE_AGENT__relay__driver: '"sim"',
          GATE_AGENT__relay__pulseMs: '200',
          GATE_AGENT__gate__cooldownMs: '0',
          GATE_AGENT__gate__antiPassbackMinutes: '60',
          GATE_AGENT__camera__kind: '"replay"',
          GATE_AGENT__camera__path: JSON.stringify(frames),
          GATE_AGENT__camera__loop: 'true',
          GATE_AGENT__camera__fps: '6',
          GATE_AGENT__models__threads: '1',
          GATE_AGENT__daemon__statusIntervalMs: '250',
          GATE_AGENT__mqtt__brokerUrl: JSON.stringify(brokerUrl),
          GATE_AGENT__mqtt__keepaliveSec: '2',
          GATE_AGENT__mqtt__reconnectMinMs: '200',
          GATE_AGENT__mqtt__reconnectMaxMs: '800',
          GATE_AGENT__fleet__enabled: 'true',
          GATE_AGENT__fleet__heartbeatMs: '300',
          GATE_AGENT__fleet__peerSilenceMs: '2500',
          ...env,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
      t,
    );
    return new Gate(gateId, dataDir, frames, child);
  }

  status(): Promise<StatusSnapshot | undefined> {
    return readFile(join(this.dataDir, 'status.json'), 'utf8').then((s) => JSON.parse(s) as StatusSnapshot, () => undefined);
  }

  /** Polls status.json until `ok` says yes. */
  async untilStatus(what: string, ok: (s: StatusSnapshot) => boolean, timeoutMs = 60_000): Promise<StatusSnapshot> {
    return until(`${this.gateId}: ${what}`, async () => {
      const s = await this.status();
      return s && ok(s) ? s : undefined;
    }, timeoutMs).catch((err: Error) => {
      throw new Error(`${err.message}\n--- ${this.gateId} log tail ---\n${this.log.slice(-2000)}`);
    });
  }

  /**
   * The attendee walks up (their frames join the loop); resolves with the first decision
   * about them logged after that, and takes the frames away again.
   */
  async walkUp(userId: string, frames: string, timeoutMs = 60_000): Promise<string> {
    const from = this.log.length;
    const prefix = `b${++this.walks}-`;
    for (const f of ['frame-001.jpg', 'frame-004.jpg', 'frame-006.jpg', 'frame-008.jpg']) await copyFile(join(frames, f), join(this.frames, `${prefix}${f}`));
    try {
      return await until(`${this.gateId}: a decision about ${userId}`, () => {
        const m = new RegExp(`"msg":"(granted: ${userId}|denied: [a-z_]+ \\(${userId}\\))"`).exec(this.log.slice(from));
        return m?.[1];
      }, timeoutMs).catch((err: Error) => {
        throw new Error(`${err.message}\n--- ${this.gateId} log tail ---\n${this.log.slice(-2000)}`);
      });
    } finally {
      for (const f of await readdir(this.frames)) if (f.startsWith(prefix)) await rm(join(this.frames, f), { force: true });
    }
  }

  /** The other gates' entries this gate has stored (read from its SQLite file). */
  peerEntries(): { gate_id: string; user_id: string; offline: number; seq: number }[] {
    const db = new Database(join(this.dataDir, 'gate-agent.db'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT gate_id, user_id, offline, seq FROM fleet_peer_entries ORDER BY gate_id, user_id').all() as { gate_id: string; user_id: string; offline: number; seq: number }[];
    } finally {
      db.close();
    }
  }

  /** SIGTERM; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((res) => this.child.once('exit', (code) => res(code)));
    this.child.kill('SIGTERM');
    return exited;
  }
}
