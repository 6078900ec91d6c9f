// One walk-up to a daemon fed frame by frame on its injected clock: three frames 100 ms
// apart (one track, however slow this machine is), then the clock moves past the track
// lifetime and the track ends.
import type { GateDaemon } from '../../src/app/daemon.js';
import type { GateDecision } from '../../src/gate/types.js';

/** The daemon's injected clock (`now: () => clock.ms, mono: () => clock.ms`). */
export interface ManualClock {
  ms: number;
}

export async function approach(daemon: GateDaemon, frame: Buffer, clock: ManualClock, trackTtlMs: number): Promise<GateDecision[]> {
  const out: GateDecision[] = [];
  for (let i = 0; i < 3; i++) {
    clock.ms += 100;
    out.push(...(await daemon.processFrame({ data: frame, seq: i, capturedAtMs: performance.now(), sourceId: 't' })));
  }
  daemon.flushTracks();
  clock.ms += trackTtlMs + 1;
  return out;
}
