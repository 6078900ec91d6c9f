// The composition root both `gate-agent run` and `gate-agent serve` build on: the store,
// the face models, the galleries and the Recognizer (recognition.ts), the outbox and
// its MQTT publisher, the metrics and the identity endpoint. `run` adds the camera, the
// relay and the gate around it (daemon.ts); `serve` is this stack alone (serve.ts).
import type { ReadinessProbe } from '../api/identity-service.js';
import { MetricsRegistry } from '../api/metrics.js';
import { logger } from '../log.js';
import { Outbox } from '../publish/outbox.js';
import type { GateIdentity } from '../publish/options.js';
import { MqttPublisher } from '../publish/publisher.js';
import { sealerOf } from '../store/open.js';
import type { AgentContext } from './context.js';
import { VERSION } from '../version.js';
import { startApiService, type ApiService } from './identity.js';
import { startRecognition, type Recognition } from './recognition.js';

const log = logger('daemon');

/**
 * Who this gate is, on every outgoing record and the MQTT status: one object the outbox
 * and the publisher share, so eventId follows the gate's current event.
 */
export type StackIdentity = GateIdentity;

export class AgentStack {
  /** Started by startApi(); null until then, and when it could not listen. */
  api: ApiService | null = null;

  private constructor(
    readonly ctx: AgentContext,
    readonly rec: Recognition,
    readonly identity: StackIdentity,
    readonly outbox: Outbox,
    /** null when mqtt.brokerUrl is not set: results wait in the outbox. */
    readonly publisher: MqttPublisher | null,
    readonly metrics: MetricsRegistry,
  ) {}

  /** Opens the store and loads the models; the publisher is made, not started (commands are registered first). */
  static async open(ctx: AgentContext, metrics = new MetricsRegistry()): Promise<AgentStack> {
    const c = ctx.config;
    const rec = await startRecognition(c, ctx.modelsDir, ctx.dataDir);
    const identity: StackIdentity = { gateId: c.gateId, siteId: c.siteId, eventId: '', modelId: rec.embedderId, version: VERSION };
    try {
      const outbox = new Outbox(rec.store.db, { identity, maxMessages: c.mqtt.outboxMaxMessages, ...sealerOf(rec.store) });
      const publisher = c.mqtt.brokerUrl ? new MqttPublisher({ ...c.mqtt, brokerUrl: c.mqtt.brokerUrl }, { outbox, identity }) : null;
      return new AgentStack(ctx, rec, identity, outbox, publisher, metrics);
    } catch (err) {
      await rec.stop();
      throw err;
    }
  }

  /** Starts publishing; `what` names the records kept locally when there is no broker. */
  startPublisher(what: string): void {
    if (!this.publisher) {
      log.info({ queued: this.outbox.depth() }, `mqtt.brokerUrl not set: ${what} are kept in the local outbox`);
      return;
    }
    this.publisher.start();
    log.info({ broker: this.publisher.status().broker }, 'publishing results over MQTT');
  }

  /** POST /identity, /healthz and /metrics over this stack's recognizer and outbox. */
  async startApi(readiness: readonly ReadinessProbe[]): Promise<ApiService> {
    this.api = await startApiService({ config: this.ctx.config, rec: this.rec, outbox: this.outbox, metrics: this.metrics, readiness });
    return this.api;
  }
}
