// The inference worker's faults on every channel: a crash is a `vision` fault (the log,
// /healthz, the MQTT status, sd_notify STATUS= and a health_fault event, through
// GateHealth), and the restart clears it. While the worker is down every frame fails
// and nothing is decided, so the door stays shut; the relay is driven from this thread
// and never waits on the worker.
import { logger } from '../log.js';
import type { FaceAnalyzer } from '../vision/pipeline.js';
import { WorkerPipeline } from '../vision/worker-pipeline.js';

const log = logger('vision');

/** Where the state goes: GateHealth.set for the daemon, serve's ModelsState for serve. */
export type VisionHealthSink = (ok: boolean, detail: string) => void;

/** Reports the pipeline's worker state to `sink` from now on; returns the unsubscribe. */
export function watchInference(pipeline: FaceAnalyzer, sink: VisionHealthSink): () => void {
  if (!(pipeline instanceof WorkerPipeline)) {
    sink(true, 'face models in the gate\'s own thread (vision.inferenceWorker off)');
    return () => {};
  }
  const up = (): string => `face models in the inference worker (thread ${pipeline.threadId})`;
  const onCrash = (err: Error, { restartInMs }: { restartInMs: number }): void => {
    log.error({ err: err.message, restartInMs, crashes: pipeline.crashes }, 'the inference worker crashed; restarting it');
    sink(false, `the inference worker crashed (${err.message}); restarting it in ${restartInMs} ms; nobody is admitted until it is back`);
  };
  const onRestarted = ({ downMs }: { downMs: number }): void => {
    log.info({ downMs: Math.round(downMs), threadId: pipeline.threadId }, 'the inference worker is running again');
    sink(true, up());
  };
  const onRestartFailed = (err: Error, { retryInMs }: { retryInMs: number }): void => {
    log.error({ err: err.message, retryInMs }, 'the inference worker could not be started again');
    sink(false, `the inference worker could not be started again (${err.message}); next try in ${retryInMs} ms; nobody is admitted until it is back`);
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
