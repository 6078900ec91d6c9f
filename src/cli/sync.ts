// `gate-agent sync`: download attendee lists from the central server once.
// Progress goes to stderr (a bar on a terminal, one line per page otherwise);
// the summary goes to stdout. The API key, embeddings and KYC data are never printed.
import { Option, type Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { modelById } from '../models/manifest.js';
import { openStore } from '../store/open.js';
import { createCentralClient } from '../sync/client.js';
import { SyncConfigError, type SyncConfig } from '../sync/config.js';
import { pipelineEmbedder, type EmbedPhoto } from '../sync/photo.js';
import { photoFetcher } from '../api/photo-fetcher.js';
import { syncAll, type SyncProgress, type SyncResult } from '../sync/sync.js';
import { createPipeline } from '../vision/factory.js';
import type { FacePipeline } from '../vision/pipeline.js';
import { action, fail, resolveContext, withCommonOptions, type CommonOptions } from './common.js';

type SyncCliOptions = CommonOptions & { event?: string; url?: string; apiKeyFile?: string };

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('sync')
      .description('download attendee lists from the central server into the local cache (API key from GATE_AGENT_SYNC_API_KEY or --api-key-file)')
      .option('--event <id>', 'sync this event only (default: sync.events, else every event in the cache)')
      .addOption(new Option('--url <baseUrl>', 'central server address (default: sync.baseUrl)').env('GATE_AGENT_SYNC_URL'))
      .option('--api-key-file <file>', 'file holding the API key (default: sync.apiKeyFile)'),
  ).action(
    action(async (opts: SyncCliOptions) => {
      const ctx = resolveContext(opts);
      const sc: SyncConfig = { ...ctx.config.sync, ...(opts.url && { baseUrl: opts.url }), ...(opts.apiKeyFile && { apiKeyFile: opts.apiKeyFile }) };
      let client;
      try {
        client = createCentralClient(sc);
      } catch (err) {
        if (err instanceof SyncConfigError) return fail(err.message, 2);
        throw err;
      }
      const modelId = modelById(ctx.config.models.embedder, 'embedder').id;
      const store = openStore(ctx.config, ctx.dataDir);
      let pipeline: FacePipeline | null = null;
      // Models are loaded only when the server actually sends a photo to embed.
      let lazy: Promise<EmbedPhoto> | null = null;
      const embedPhoto: EmbedPhoto = async (image) => {
        lazy ??= createPipeline(ctx.config, ctx.modelsDir).then(async (p) => {
          pipeline = p.pipeline;
          await p.pipeline.start();
          return pipelineEmbedder(p.pipeline, ctx.config.quality);
        });
        return (await lazy)(image);
      };
      const events = opts.event ? [opts.event] : sc.events;
      if (events.length === 0 && store.listEvents().length === 0) {
        store.db.close();
        return fail('the local cache has no events yet; name one with --event <id>', 2);
      }
      const progress = progressReporter(Boolean(opts.json));
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      let results: SyncResult[];
      try {
        results = await syncAll({
          store, client, modelId, events,
          pageSize: sc.pageSize, maxRetries: sc.maxRetries, retryBackoffMs: sc.retryBackoffMs,
          purgeGraceHours: ctx.config.store.purgeGraceHours,
          embedPhoto,
          fetchPhoto: photoFetcher({ baseUrl: client.baseUrl, maxPhotoBytes: sc.maxPhotoBytes, requestTimeoutMs: sc.requestTimeoutMs }),
          onProgress: progress.page,
          signal: stop.signal,
        });
      } finally {
        progress.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await (pipeline as FacePipeline | null)?.stop();
        store.db.close();
      }
      if (opts.json) process.stdout.write(JSON.stringify({ modelId, events: results }) + '\n');
      else for (const r of results) process.stdout.write(summaryLine(r, modelId) + '\n');
      const failed = results.filter((r) => r.error);
      // The JSON above already carries each error.
      for (const r of failed) fail(`event ${r.eventId}: ${r.error}`, 1, { json: false });
    }),
  );
}

export function summaryLine(r: SyncResult, modelId: string): string {
  if (r.skipped) return `${r.eventId}: skipped: ${r.skipped}`;
  const parts = [
    `${r.pages} page(s)`,
    `${r.upserts} attendee(s) added or updated`,
    `${r.deletions} removed`,
    `${r.embeddedFromPhoto} embedded from photos`,
    ...(r.photoProblems ? [`${r.photoProblems} photo(s) not usable`] : []),
    ...(r.removedStale ? [`${r.removedStale} no longer listed and removed`] : []),
  ];
  const state = r.error ? 'FAILED (the cache keeps every page applied before the failure)' : r.pages === 0 ? 'up to date' : 'done';
  const restart = r.restartedForModel ? ` (restarted from scratch for model ${modelId})` : r.restartedExpired ? ' (restarted from scratch: the server no longer knew the cursor)' : '';
  return `${r.eventId}: ${state}${restart}: ${parts.join(', ')}; ${r.attendees} attendee(s) cached, ${r.notUsable} not yet usable with ${modelId}`;
}

function progressReporter(json: boolean): { page: (p: SyncProgress) => void; stop: () => void } {
  if (process.stderr.isTTY) {
    const bar = new SingleBar({ stream: process.stderr, format: 'sync {event} [{bar}] {value}/{total} item(s), page {pages}' }, Presets.shades_classic);
    let current: string | null = null;
    return {
      page: (p) => {
        // The total is the server's estimate when it sends one, else what is known so far.
        const total = p.done + (p.remaining ?? (p.hasMore ? p.items : 0));
        if (current !== p.eventId) {
          if (current !== null) bar.stop();
          current = p.eventId;
          bar.start(total, p.done, { event: p.eventId, pages: p.pages });
        } else {
          bar.setTotal(total);
          bar.update(p.done, { event: p.eventId, pages: p.pages });
        }
      },
      stop: () => {
        if (current !== null) bar.stop();
      },
    };
  }
  return {
    page: (p) => {
      const line = json ? JSON.stringify({ progress: p }) : `sync ${p.eventId}: page ${p.pages} applied (${p.items} item(s), ${p.done} so far${p.hasMore ? '' : ', last page'})`;
      process.stderr.write(line + '\n');
    },
    stop: () => undefined,
  };
}
