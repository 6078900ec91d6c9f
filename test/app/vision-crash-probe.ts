// Run by daemon-vision-crash.test.ts as a child process: the real daemon (config from the
// GATE_AGENT_* environment, as `gate-agent run` reads it), whose inference worker thread is
// ended when the parent writes "kill" (worker 0) or "kill N" (worker N of the pool) on stdin (a thread cannot be killed from another
// process). The parent reads the log on stderr, /healthz and the MQTT status, and the
// relay's state lines on stdout. Not a test file itself.
import { createInterface } from 'node:readline';
import { GateDaemon } from '../../src/app/daemon.js';
import { loadConfig } from '../../src/config/load.js';
import { WorkerPipeline } from '../../src/vision/worker-pipeline.js';

const dataDir = process.env.GATE_AGENT_DATA_DIR!;
const config = loadConfig({ file: null, env: process.env, overrides: { dataDir } });
config.event.id = 'gala';
const daemon = new GateDaemon({ config, configFile: null, modelsDir: process.env.GATE_AGENT_MODELS_DIR!, dataDir });
await daemon.start();
const say = (o: Record<string, unknown>): boolean => process.stdout.write(`${JSON.stringify(o)}\n`);
// The relay's line as the driver holds it, every 20 ms: the parent checks it is never left energised.
const relayWatch = setInterval(() => say({ relayActive: daemon.relay!.state().active, visionOk: daemon.health.get('vision')?.ok ?? null, framesFailed: daemon.stats.framesFailed, granted: daemon.stats.decisions.granted ?? 0 }), 20);
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const m = /^kill(?: (\d+))?$/.exec(line.trim());
  if (!m) return;
  const p = daemon.rec!.pipeline;
  if (!(p instanceof WorkerPipeline)) throw new Error('the daemon does not run its models in a worker');
  void p.killWorker(Number(m[1] ?? 0)).then(() => say({ killed: true }));
});
process.once('SIGTERM', () => {
  clearInterval(relayWatch);
  lines.close();
  void daemon.stop().then(() => process.exit(0));
});
