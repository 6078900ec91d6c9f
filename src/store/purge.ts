// Purging ended events in bounded steps (AttendeeStore.purgeEventStep), yielding to the
// event loop between them: one DELETE of 100k attendees with their embeddings took
// seconds, during which no frame, MQTT message, API request or watchdog ping was served.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { AttendeeStore } from './attendees.js';

export interface BatchedPurgeOptions {
  /** Rows deleted per step (store.purgeBatchRows). */
  batchRows: number;
  signal?: AbortSignal;
}

/** Purges every event past its purge time; returns the ids of those emptied. */
export async function purgeExpiredInBatches(store: AttendeeStore, o: BatchedPurgeOptions): Promise<string[]> {
  const purged: string[] = [];
  for (const id of store.expiredEvents()) {
    for (;;) {
      if (o.signal?.aborted) return purged;
      if (store.purgeEventStep(id, o.batchRows).done) break;
      await yieldToLoop();
    }
    purged.push(id);
  }
  return purged;
}
