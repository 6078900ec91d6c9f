// Graceful stop, once, with a deadline (cf. zigbee2mqtt index.js handleQuit,
// Homebridge cli.ts). The relay goes to its safe state before anything else,
// components are then stopped one by one in their own try/catch (a failing
// MQTT client must not keep SQLite from closing), and a deadline forces the
// exit with the relay made safe again should a component hang.
import { logger } from '../log.js';

const log = logger('service');

export interface Stoppable {
  readonly name: string;
  stop(): unknown;
}

export interface ShutdownOptions {
  /** De-energised first, and again when the deadline fires. */
  relay: { safe(): void };
  /** Stopped in this order after the relay is safe; put SQLite and logs last. */
  components: readonly Stoppable[];
  /** From the first signal to a forced exit. */
  deadlineMs: number;
  /** Told STOPPING=1 (service/sdnotify.ts). */
  notify?: { stopping(): Promise<void> };
  /** Default process.exit; injected by tests. */
  exit?: (code: number) => void;
  signals?: NodeJS.Signals[];
}

export const EXIT_OK = 0;
export const EXIT_COMPONENT_FAILED = 1;
export const EXIT_DEADLINE = 2;

export class Shutdown {
  private running: Promise<number> | null = null;
  private readonly signals: NodeJS.Signals[];
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.running) {
      log.warn({ signal }, 'already shutting down, signal ignored');
      return;
    }
    this.run(signal).catch((err: unknown) => log.error({ err }, 'shutdown failed'));
  };

  constructor(private readonly opts: ShutdownOptions) {
    this.signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  }

  get inProgress(): boolean {
    return this.running !== null;
  }

  install(): void {
    for (const s of this.signals) process.on(s, this.onSignal);
  }

  uninstall(): void {
    for (const s of this.signals) process.off(s, this.onSignal);
  }

  /** Stops everything once; later calls get the same promise. Resolves with the exit code. */
  run(reason: string): Promise<number> {
    this.running ??= this.sequence(reason);
    return this.running;
  }

  private safe(): void {
    try {
      this.opts.relay.safe();
    } catch (err) {
      log.error({ err }, 'relay.safe() threw during shutdown');
    }
  }

  private async sequence(reason: string): Promise<number> {
    const exit = this.opts.exit ?? ((code: number) => process.exit(code));
    log.info({ reason, deadlineMs: this.opts.deadlineMs }, 'shutting down');
    this.safe();
    let current = '';
    const deadline = setTimeout(() => {
      this.safe();
      log.error({ pending: current, deadlineMs: this.opts.deadlineMs }, 'shutdown deadline passed, forcing exit');
      exit(EXIT_DEADLINE);
    }, this.opts.deadlineMs);
    let code = EXIT_OK;
    try {
      await this.opts.notify?.stopping();
    } catch (err) {
      log.warn({ err }, 'could not notify systemd of stopping');
    }
    for (const c of this.opts.components) {
      current = c.name;
      try {
        await c.stop();
        log.debug({ component: c.name }, 'stopped');
      } catch (err) {
        code = EXIT_COMPONENT_FAILED;
        log.error({ err, component: c.name }, 'component failed to stop');
      }
    }
    clearTimeout(deadline);
    log.info({ code }, 'stopped');
    exit(code);
    return code;
  }
}
