// The daemon's periodic sync: the same syncAll as `gate-agent sync`, every
// sync.intervalMs and on the MQTT `sync` command, never two at once.
import type { Config } from '../config/types.js';
import { logger } from '../log.js';
import type { AttendeeStore } from '../store/attendees.js';
import type { FaceAnalyzer } from '../vision/pipeline.js';
import { createCentralClient, type HttpCentralClient } from './client.js';
import { pipelineEmbedder, type FetchPhoto } from './photo.js';
import { syncAll, type SyncResult } from './sync.js';
import { errorText } from '../errors.js';

const log = logger('sync');

export interface SyncSchedulerDeps {
  config: Config;
  store: AttendeeStore;
  pipeline: FaceAnalyzer;
  modelId: string;
  /** How a photo is downloaded from the central server at baseUrl (the app hands over the API's SSRF-safe fetcher). */
  fetchPhoto: (baseUrl: URL) => FetchPhoto;
  /** Events to sync besides those in the cache (the configured one, before it is cached). */
  extraEvents: () => string[];
  onDone: (results: SyncResult[], durationMs: number) => void;
  onFailed: (error: string) => void;
}

export class SyncScheduler {
  private client: HttpCentralClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SyncResult[]> | null = null;
  private readonly abort = new AbortController();

  constructor(private readonly deps: SyncSchedulerDeps) {}

  get enabled(): boolean {
    return this.deps.config.sync.baseUrl !== null;
  }

  start(): void {
    if (!this.enabled) {
      log.info('sync.baseUrl not set: the attendee cache is filled by enrollment only');
      return;
    }
    this.client = createCentralClient(this.deps.config.sync);
    void this.runNow();
    this.timer = setInterval(() => void this.runNow(), this.deps.config.sync.intervalMs);
  }

  /** Run a sync now, or join the one already running. */
  runNow(): Promise<SyncResult[]> {
    if (!this.client) return Promise.resolve([]);
    this.running ??= this.run(this.client).finally(() => (this.running = null));
    return this.running;
  }

  private async run(client: HttpCentralClient): Promise<SyncResult[]> {
    const { config, store } = this.deps;
    const t0 = Date.now();
    const cached = store.listEvents().map((e) => e.id);
    const events = config.sync.events.length ? config.sync.events : [...new Set([...this.deps.extraEvents(), ...cached])];
    try {
      const results = await syncAll({
        store,
        client,
        modelId: this.deps.modelId,
        events,
        pageSize: config.sync.pageSize,
        maxRetries: config.sync.maxRetries,
        retryBackoffMs: config.sync.retryBackoffMs,
        purgeGraceHours: config.store.purgeGraceHours,
        embedPhoto: pipelineEmbedder(this.deps.pipeline, config.quality),
        fetchPhoto: this.deps.fetchPhoto(client.baseUrl),
        signal: this.abort.signal,
      });
      const failed = results.filter((r) => r.error);
      if (failed.length) this.deps.onFailed(failed.map((r) => `${r.eventId}: ${r.error}`).join('; '));
      else this.deps.onDone(results, Date.now() - t0);
      return results;
    } catch (err) {
      this.deps.onFailed(errorText(err));
      return [];
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }
}
