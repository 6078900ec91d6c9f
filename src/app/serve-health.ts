// What `gate-agent serve` reports on /healthz. Each probe has seen the thing
// work: the database took a real write just now, the models answered a
// detection, and there is an event a request could name.
import type { ReadinessProbe, ReadinessResult } from '../api/identity-service.js';
import type { AttendeeStore } from '../store/attendees.js';
import { errorText } from '../errors.js';

/** Whether the face models are loaded and have answered; serve sets it. */
export class ModelsState {
  private state: ReadinessResult = { ready: false, reason: 'the face models are still loading' };

  /** After the models answered a detection. */
  loaded(): void {
    this.state = { ready: true };
  }

  /** When they fail to load or are being stopped. */
  unloaded(reason: string): void {
    this.state = { ready: false, reason };
  }

  get(): ReadinessResult {
    return this.state;
  }
}

export function serveReadiness(store: Pick<AttendeeStore, 'heartbeat' | 'listEvents'>, models: ModelsState): ReadinessProbe[] {
  return [
    {
      name: 'store',
      check: () => {
        try {
          // A real write: a verification that cannot be recorded is not made.
          store.heartbeat();
          store.listEvents();
          return { ready: true };
        } catch (err) {
          return { ready: false, reason: `the database cannot be written or read (${errorText(err)}); free disk space or fix the data directory's permissions` };
        }
      },
    },
    { name: 'models', check: () => models.get() },
    {
      name: 'event',
      check: () => {
        let n: number;
        try {
          n = store.listEvents().length;
        } catch (err) {
          return { ready: false, reason: `the events cannot be read (${errorText(err)})` };
        }
        if (n === 0) return { ready: false, reason: 'no event is known to this gate, so every POST /identity would answer 404; add one with `gate-agent events add <id>` or let the attendee sync bring it in' };
        return { ready: true };
      },
    },
  ];
}
