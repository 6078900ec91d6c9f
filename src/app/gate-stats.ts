// What the gate counts while it runs: `run --once` prints it, the benchmarks read it.
import { RecentSamples } from './recent-samples.js';

export interface DaemonStats {
  frames: number;
  framesFailed: number;
  decisions: Record<string, number>;
  /** Pulses the relay driver confirmed (the line was driven); a failed one counts in pulseFailures. */
  pulses: number;
  pulseFailures: number;
  /** Frame capture to relay energised, per grant, ms (the last 1000). */
  grantLatencyMs: RecentSamples;
  /** Newest-frame slot wait of each granted frame (arrival to taken by the frame loop), ms (the last 1000). */
  grantSlotWaitMs: RecentSamples;
  /** Liveness scoring time per processed frame with an event, ms (0 when no face matched; the last 1000). */
  livenessMs: RecentSamples;
  /** Per processed frame, ms, by stage (decode, detect, embed, match): the last 1000 each. */
  stageMs: Record<'decode' | 'detect' | 'embed' | 'match', RecentSamples>;
}

/** Samples kept for the summary and benchmarks: a daemon that runs for months must not grow. */
const STATS_SAMPLES = 1000;

export function newStats(): DaemonStats {
  const samples = (): RecentSamples => new RecentSamples(STATS_SAMPLES);
  return { frames: 0, framesFailed: 0, decisions: {}, pulses: 0, pulseFailures: 0, grantLatencyMs: samples(), grantSlotWaitMs: samples(), livenessMs: samples(), stageMs: { decode: samples(), detect: samples(), embed: samples(), match: samples() } };
}
