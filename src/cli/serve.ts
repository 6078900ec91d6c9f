// `gate-agent serve`: the identity endpoint alone (no camera, no relay), for a
// kiosk or staff app. Verifications are recorded in the outbox and, when
// mqtt.brokerUrl is set, published like the gate's decisions.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { MetricsRegistry } from '../api/metrics.js';
import { startApiService, type ApiService } from '../app/identity.js';
import { startRecognition, type Recognition } from '../app/recognition.js';
import { logger } from '../log.js';
import { Outbox } from '../publish/outbox.js';
import { sealerOf } from '../store/open.js';
import { MqttPublisher } from '../publish/publisher.js';
import { Shutdown } from '../service/shutdown.js';
import { ModelsState, serveReadiness } from './serve-health.js';
import { watchInference } from '../app/vision-health.js';
import { action, resolveContext, withCommonOptions, type CommonOptions } from './common.js';

const log = logger('cli');
const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

type ServeOptions = CommonOptions & { host?: string; port?: number; allowHost: string[] };

function parsePort(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new InvalidArgumentError('a port is a whole number from 0 to 65535 (0: any free port)');
  return n;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('serve')
      .description('serve the identity endpoint (POST /identity, /healthz, /metrics) without the camera and relay')
      .option('--host <addr>', 'address to listen on (default: api.host)')
      .option('--port <n>', 'port to listen on, 0 for any free one (default: api.port)', parsePort)
      .option('--allow-host <host>', 'also let image_url reach this LAN host (adds to api.imageAllowList; repeatable)', collect, [] as string[]),
  ).action(
    action(async (opts: ServeOptions) => {
      const ctx = resolveContext(opts);
      const api = ctx.config.api;
      ctx.config.api = {
        ...api,
        host: opts.host ?? api.host,
        port: opts.port ?? api.port,
        imageAllowList: [...api.imageAllowList, ...opts.allowHost],
      };
      let rec: Recognition | undefined;
      let service: ApiService | undefined;
      let publisher: MqttPublisher | undefined;
      let started = false;
      const models = new ModelsState();
      const shutdown = new Shutdown({
        exit: (code) => process.exit(started ? code : 1),
        relay: { safe: () => undefined },
        // The listener first, so no request starts while the models go away.
        components: [
          { name: 'api', stop: () => service?.close() },
          { name: 'publisher', stop: () => publisher?.stop() },
          {
            name: 'recognition',
            stop: () => {
              models.unloaded('the face models are stopping');
              return rec?.stop();
            },
          },
        ],
        deadlineMs: ctx.config.daemon.shutdownDeadlineMs,
      });
      shutdown.install();
      try {
        rec = await startRecognition(ctx.config, ctx.modelsDir, ctx.dataDir);
        // Loaded is not enough for /healthz: the detector must have answered once.
        await rec.pipeline.analyze({ data: new Uint8Array(32 * 32 * 3), width: 32, height: 32 }, { embed: false });
        models.loaded();
        // A crashed inference worker is a fault on /healthz until it is back.
        watchInference(rec.pipeline, (ok, detail) => (ok ? models.loaded() : models.unloaded(detail)));
        const identity = { gateId: ctx.config.gateId, siteId: ctx.config.siteId, eventId: '', modelId: rec.embedderId };
        const outbox = new Outbox(rec.store.db, { identity, maxMessages: ctx.config.mqtt.outboxMaxMessages, ...sealerOf(rec.store) });
        if (ctx.config.mqtt.brokerUrl) {
          publisher = new MqttPublisher({ ...ctx.config.mqtt, brokerUrl: ctx.config.mqtt.brokerUrl }, { outbox, identity: { ...identity, version: VERSION } });
          publisher.start();
        } else {
          log.info({ queued: outbox.depth() }, 'mqtt.brokerUrl not set: verifications are kept in the local outbox');
        }
        service = await startApiService({ config: ctx.config, rec, outbox, metrics: new MetricsRegistry(), readiness: serveReadiness(rec.store, models) });
        started = true;
      } catch (err) {
        process.stderr.write(`gate-agent: cannot start the identity endpoint: ${(err as Error).message}\n`);
        await shutdown.run('start failed');
        return;
      }
      const { host, port } = service.address;
      const shown = host.includes(':') ? `[${host}]` : host;
      process.stdout.write(opts.json ? JSON.stringify({ host, port }) + '\n' : `identity endpoint listening on http://${shown}:${port}\n`);
    }),
  );
}
