// A data dir with one event ("gala") and attendees enrolled from shared photos through the
// real pipeline: made once per test file, copied per test where tests must not share state.
import { join } from 'node:path';
import { startRecognition } from '../../src/app/recognition.js';
import { enrollAttendee } from '../../src/enroll/enroll.js';
import { defaultConfig, readPhoto } from '../fixtures.js';
import { SHARED_FACES, SHARED_MODELS } from '../paths.js';

/** userId -> [display name, photo under shared/faces]; obama from a different photo than the walk-up clips show. */
export const GALA_ATTENDEES: Record<string, [string, string]> = {
  obama: ['Barack Obama', 'people/obama/2.jpg'],
  kit: ['Kit', 'people/kit_harington/1.jpg'],
};

export async function enrolledDataDir(dataDir: string, userIds: readonly (keyof typeof GALA_ATTENDEES)[] = ['obama']): Promise<void> {
  const rec = await startRecognition(defaultConfig(), SHARED_MODELS, dataDir);
  try {
    rec.store.upsertEvent({ id: 'gala' });
    const deps = { pipeline: rec.pipeline, store: rec.store, galleries: rec.galleries, config: rec.config, embedderId: rec.embedderId };
    for (const userId of userIds) {
      const [name, photo] = GALA_ATTENDEES[userId]!;
      await enrollAttendee(deps, { eventId: 'gala', userId, name, photos: [{ label: photo, data: readPhoto(join(SHARED_FACES, photo)) }] });
    }
  } finally {
    await rec.stop();
  }
}
