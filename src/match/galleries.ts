// One gallery per event, loaded from the store on first use and kept in step with
// it through the store's change events (no full rebuild per change).
import type { AttendeeStore, StoreChange } from '../store/attendees.js';
import { Gallery } from './gallery.js';

export interface GalleriesOptions {
  modelId: string;
  dim: number;
  threads: number;
  rescoreTop: number;
}

export class Galleries {
  private byEvent = new Map<string, Promise<Gallery>>();
  private readonly onChange = (c: StoreChange) => this.apply(c);

  constructor(
    private readonly store: AttendeeStore,
    private readonly opts: GalleriesOptions,
  ) {}

  start(): void {
    this.store.on('change', this.onChange);
  }

  async stop(): Promise<void> {
    this.store.off('change', this.onChange);
    const all = [...this.byEvent.values()];
    this.byEvent.clear();
    for (const g of all) await (await g).stop();
  }

  /** The event's gallery, loading it from the store the first time. */
  get(eventId: string): Promise<Gallery> {
    let g = this.byEvent.get(eventId);
    if (!g) {
      g = this.load(eventId);
      this.byEvent.set(eventId, g);
      g.catch(() => this.byEvent.delete(eventId));
    }
    return g;
  }

  private async load(eventId: string): Promise<Gallery> {
    const count = this.store.countEmbeddings(eventId, this.opts.modelId);
    const g = new Gallery({
      dim: this.opts.dim,
      threads: this.opts.threads,
      rescoreTop: this.opts.rescoreTop,
      vectorOf: (id) => this.store.getVector(id),
      initialCapacity: Math.max(1024, count),
    });
    await g.start();
    for (const e of this.store.iterateEmbeddings(eventId, this.opts.modelId)) g.add(e.id, e.userId, e.vector);
    return g;
  }

  private apply(c: StoreChange): void {
    const g = this.byEvent.get(c.eventId);
    if (!g) return; // not loaded yet: it will read the store when it is
    if (c.kind === 'event-removed') {
      this.byEvent.delete(c.eventId);
      void g.then((x) => x.stop());
      return;
    }
    void g.then((x) => {
      if (c.kind === 'embedding-added') {
        if (c.modelId === this.opts.modelId) x.add(c.id, c.userId, c.vector);
      } else if (c.modelId === null || c.modelId === this.opts.modelId) {
        x.remove({ userId: c.userId });
      }
    });
  }
}
