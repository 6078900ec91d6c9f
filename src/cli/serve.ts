// `gate-agent serve`: the identity endpoint alone (no camera, no relay), for a
// kiosk or staff app; the stack is app/serve.ts, the one the gate runs on.
import { InvalidArgumentError, type Command } from 'commander';
import { IdentityServer } from '../app/serve.js';
import { Shutdown } from '../service/shutdown.js';
import { action, resolveContext, withCommonOptions, type CommonOptions } from './common.js';
import { errorText } from '../errors.js';

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
      const server = new IdentityServer(ctx);
      let started = false;
      const shutdown = new Shutdown({
        exit: (code) => process.exit(started ? code : 1),
        relay: { safe: () => undefined },
        components: server.components(),
        deadlineMs: ctx.config.daemon.shutdownDeadlineMs,
      });
      shutdown.install();
      let address: { host: string; port: number };
      try {
        address = await server.start();
        started = true;
      } catch (err) {
        process.stderr.write(`gate-agent: cannot start the identity endpoint: ${errorText(err)}\n`);
        await shutdown.run('start failed');
        return;
      }
      const { host, port } = address;
      const shown = host.includes(':') ? `[${host}]` : host;
      process.stdout.write(opts.json ? JSON.stringify({ host, port }) + '\n' : `identity endpoint listening on http://${shown}:${port}\n`);
    }),
  );
}
