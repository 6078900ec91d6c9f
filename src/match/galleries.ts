// One gallery per event, loaded from the store on first use and kept in step with
// it through the store's change events (no full rebuild per change). Loads and the
// rebuilds after another process's changes run in worker threads (gallery-load.ts), so
// the gate's loop never stalls on them.
import type { AttendeeStore, StoreChange } from '../store/attendees.js';
import { logger } from '../log.js';
import { FusedGallery } from './fused-gallery.js';
import { Gallery, type AttendeeGallery } from './gallery.js';
import { loadColumns } from './gallery-load.js';

const log = logger('gallery');

export interface GalleriesOptions {
  modelId: string;
  dim: number;
  threads: number;
  rescoreTop: number;
  /** identification.templates: one fused template per attendee, or the best of their embeddings. */
  templates?: 'fused' | 'best';
  /** Worker threads that read and decrypt a gallery in slices; 0: load on the calling thread (an in-memory database). */
  loadWorkers?: number;
}

export class Galleries {
  private byEvent = new Map<string, Promise<AttendeeGallery>>();
  private reloading = new Map<string, Promise<AttendeeGallery>>();
  /** Events changed by another process again while their rebuild ran: rebuilt once more after it. */
  private stale = new Set<string>();
  private readonly onChange = (c: StoreChange) => this.apply(c);

  constructor(
    private readonly store: AttendeeStore,
    private readonly opts: GalleriesOptions,
  ) {}

  start(): void {
    this.store.on('change', this.onChange);
  }

  private stopped = false;

  async stop(): Promise<void> {
    this.stopped = true;
    this.stale.clear();
    this.store.off('change', this.onChange);
    // A rebuild still loading is waited for and dropped: its threads read the database.
    await Promise.allSettled([...this.reloading.values()]);
    const all = [...this.byEvent.values()];
    this.byEvent.clear();
    for (const g of all) await (await g).stop();
  }

  /** The event's gallery, loading it from the store the first time. */
  get(eventId: string): Promise<AttendeeGallery> {
    let g = this.byEvent.get(eventId);
    if (!g) {
      g = this.load(eventId);
      this.byEvent.set(eventId, g);
      g.catch(() => this.byEvent.delete(eventId));
    }
    return g;
  }

  private async load(eventId: string): Promise<AttendeeGallery> {
    const workers = this.opts.loadWorkers ?? 1;
    const onLoop = workers < 1 || this.store.db.memory;
    const opts = {
      dim: this.opts.dim,
      threads: this.opts.threads,
      rescoreTop: this.opts.rescoreTop,
      vectorOf: (id: number) => this.store.getVector(id),
      initialCapacity: onLoop ? Math.max(1024, this.store.countEmbeddings(eventId, this.opts.modelId)) : 16,
    };
    const fused = this.opts.templates !== 'best';
    const g: AttendeeGallery = fused ? new FusedGallery(opts) : new Gallery(opts);
    await g.start();
    if (onLoop) {
      for (const e of this.store.iterateEmbeddings(eventId, this.opts.modelId)) g.add(e.id, e.userId, e.vector);
      return g;
    }
    try {
      const parts = await loadColumns(this.store, { eventId, modelId: this.opts.modelId, dim: this.opts.dim, fused, workers });
      await g.adopt(parts);
    } catch (err) {
      await g.stop();
      throw err;
    }
    return g;
  }

  /**
   * Rebuild every loaded gallery from the store, for changes this process did not make
   * (a CLI command, another process). The old gallery keeps answering until the new one
   * is loaded, then it is swapped in.
   */
  reloadAll(): void {
    for (const eventId of this.byEvent.keys()) this.reload(eventId);
  }

  private reload(eventId: string): void {
    const old = this.byEvent.get(eventId);
    if (!old || this.stopped) return;
    if (this.reloading.has(eventId)) return void this.stale.add(eventId);
    const next = this.load(eventId);
    // Changes made while it loads are applied to it too (apply() sees it here).
    this.reloading.set(eventId, next);
    next
      .then(
        async (g) => {
          this.reloading.delete(eventId);
          if (this.stopped || this.byEvent.get(eventId) !== old) return void (await g.stop());
          this.byEvent.set(eventId, Promise.resolve(g));
          await (await old).stop();
        },
        (err: Error) => {
          this.reloading.delete(eventId);
          log.error({ eventId, err: err.message }, 'gallery reload failed; the previous one stays in use');
        },
      )
      .catch((err: Error) => log.error({ err: err.message }, 'gallery swap failed'))
      .finally(() => {
        if (this.stale.delete(eventId)) this.reload(eventId);
      });
  }

  private apply(c: StoreChange): void {
    for (const g of [this.byEvent.get(c.eventId), this.reloading.get(c.eventId)]) if (g) this.applyTo(g, c);
  }

  private applyTo(g: Promise<AttendeeGallery>, c: StoreChange): void {
    if (c.kind === 'event-removed') {
      if (this.byEvent.get(c.eventId) === g) this.byEvent.delete(c.eventId);
      g.then((x) => x.stop()).catch((err: Error) => log.error({ err: err.message }, 'gallery stop failed'));
      return;
    }
    g.then((x) => {
      if (c.kind === 'embedding-added') {
        if (c.modelId === this.opts.modelId) x.add(c.id, c.userId, c.vector);
      } else if (c.modelId === null || c.modelId === this.opts.modelId) {
        x.remove({ userId: c.userId });
      }
    }).catch((err: Error) => log.error({ eventId: c.eventId, err: err.message }, 'gallery update failed'));
  }
}
