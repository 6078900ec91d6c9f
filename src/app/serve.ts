// `gate-agent serve`: the shared stack (stack.ts) without the camera, the relay and the
// gate: the identity endpoint for a kiosk or staff app. Verifications are recorded in
// the outbox and, when mqtt.brokerUrl is set, published like the gate's decisions.
import type { Stoppable } from '../service/shutdown.js';
import type { AgentContext } from './context.js';
import { ModelsState, serveReadiness } from './serve-health.js';
import { AgentStack } from './stack.js';
import { watchInference } from './vision-health.js';

export class IdentityServer {
  private stack: AgentStack | null = null;
  private readonly models = new ModelsState();

  constructor(private readonly ctx: AgentContext) {}

  /** Loads the models, checks they answer, then listens; resolves with the address. */
  async start(): Promise<{ host: string; port: number }> {
    const stack = await AgentStack.open(this.ctx);
    this.stack = stack;
    // Loaded is not enough for /healthz: the detector must have answered once.
    await stack.rec.pipeline.analyze({ data: new Uint8Array(32 * 32 * 3), width: 32, height: 32 }, { embed: false });
    this.models.loaded();
    // A crashed inference worker is a fault on /healthz until it is back.
    watchInference(stack.rec.pipeline, (ok, detail) => (ok ? this.models.loaded() : this.models.unloaded(detail)));
    stack.startPublisher('verifications');
    const api = await stack.startApi(serveReadiness(stack.rec.store, this.models));
    return api.address;
  }

  /** Stopped in this order: the listener first, so no request starts while the models go away. */
  components(): Stoppable[] {
    return [
      { name: 'api', stop: () => this.stack?.api?.close() },
      { name: 'publisher', stop: () => this.stack?.publisher?.stop() },
      {
        name: 'recognition',
        stop: () => {
          this.models.unloaded('the face models are stopping');
          return this.stack?.rec.stop();
        },
      },
    ];
  }
}
