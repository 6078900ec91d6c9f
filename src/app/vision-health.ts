// The inference workers' faults on every channel: a crash is a `vision` fault (the log,
// /healthz, the MQTT status, sd_notify STATUS= and a health_fault event, through
// GateHealth), and the restart that brings the pool back whole clears it. With one of
// several workers down the others keep deciding frames (more slowly: fewer frames in
// flight), and the fault says so; with every worker down each frame fails and nothing is
// decided, so the door stays shut. The relay is driven from this thread and never waits
// on a worker.
import { logger } from '../log.js';
import type { FaceAnalyzer } from '../vision/pipeline.js';
import { WorkerPipeline, type WorkerRef } from '../vision/worker-pipeline.js';

const log = logger('vision');

/** Where the state goes: GateHealth.set for the daemon, serve's ModelsState for serve. */
export type VisionHealthSink = (ok: boolean, detail: string) => void;

/** "worker 2 of 3" for a pool, "" for a single worker. */
const which = (r: WorkerRef): string => (r.workers > 1 ? ` ${r.worker + 1} of ${r.workers}` : '');

/** What the gate does meanwhile, by how many workers are still up. */
function meanwhile(r: WorkerRef): string {
  if (r.up === 0) return 'nobody is admitted until it is back';
  return `the other ${r.up === 1 ? 'worker keeps' : `${r.up} workers keep`} deciding frames meanwhile`;
}

/** Reports the pipeline's worker state to `sink` from now on; returns the unsubscribe. */
export function watchInference(pipeline: FaceAnalyzer, sink: VisionHealthSink): () => void {
  if (!(pipeline instanceof WorkerPipeline)) {
    sink(true, 'face models in the gate\'s own thread (vision.inferenceWorker off)');
    return () => {};
  }
  const up = (): string =>
    pipeline.workers === 1 ? `face models in the inference worker (thread ${pipeline.threadId})` : `face models in ${pipeline.workers} inference workers (threads ${pipeline.threadIds.join(', ')})`;
  /** Why each worker that is down is down (by index): the fault stays until all are back. */
  const down = new Map<number, string>();
  const report = (): void => {
    if (down.size === 0) sink(true, up());
    else sink(false, [...down.values()].join('; '));
  };
  const onCrash = (err: Error, r: { restartInMs: number } & WorkerRef): void => {
    log.error({ err: err.message, restartInMs: r.restartInMs, crashes: pipeline.crashes, worker: r.worker, workersUp: r.up }, `the inference worker${which(r)} crashed; restarting it`);
    down.set(r.worker, `the inference worker${which(r)} crashed (${err.message}); restarting it in ${r.restartInMs} ms; ${meanwhile(r)}`);
    report();
  };
  const onRestarted = (r: { downMs: number; threadId: number } & WorkerRef): void => {
    log.info({ downMs: Math.round(r.downMs), threadId: r.threadId, worker: r.worker, workersUp: r.up }, `the inference worker${which(r)} is running again`);
    down.delete(r.worker);
    report();
  };
  const onRestartFailed = (err: Error, r: { retryInMs: number } & WorkerRef): void => {
    log.error({ err: err.message, retryInMs: r.retryInMs, worker: r.worker, workersUp: r.up }, `the inference worker${which(r)} could not be started again`);
    down.set(r.worker, `the inference worker${which(r)} could not be started again (${err.message}); next try in ${r.retryInMs} ms; ${meanwhile(r)}`);
    report();
  };
  pipeline.on('crash', onCrash);
  pipeline.on('restarted', onRestarted);
  pipeline.on('restart-failed', onRestartFailed);
  if (pipeline.running) sink(true, up());
  return () => {
    pipeline.off('crash', onCrash);
    pipeline.off('restarted', onRestarted);
    pipeline.off('restart-failed', onRestartFailed);
  };
}
