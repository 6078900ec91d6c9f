// Caps on open client connections, total and per address. Node's own
// server.maxConnections refuses the newcomer, so a few hundred idle sockets (no key
// needed to open one) would lock out /healthz and every real client until they time
// out. Here the newcomer is kept and the oldest *idle* connection (no request in
// progress) is closed instead; only when every connection is busy is the newcomer
// refused. An address over its own cap loses its own oldest idle connection.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimitOptions {
  maxConnections: number;
  maxPerAddress: number;
  /** Called for each connection closed by the caps (metrics). */
  onShed?: (reason: 'total' | 'per_address' | 'refused') => void;
}

interface Conn {
  address: string;
  busy: number;
}

export class ConnectionLimiter {
  /** Insertion order is age order: the first idle entry is the oldest idle connection. */
  private readonly conns = new Map<Socket, Conn>();
  private readonly perAddress = new Map<string, number>();

  constructor(private readonly opts: ConnectionLimitOptions) {}

  get size(): number {
    return this.conns.size;
  }

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.onConnection(socket));
    server.on('request', (req, res) => {
      const c = this.conns.get(req.socket);
      if (!c) return;
      // Busy from request to response; a keep-alive socket is idle again afterwards.
      c.busy++;
      res.on('close', () => {
        c.busy = Math.max(0, c.busy - 1);
        this.touch(req.socket, c);
      });
    });
  }

  private onConnection(socket: Socket): void {
    const address = socket.remoteAddress ?? '?';
    if ((this.perAddress.get(address) ?? 0) >= this.opts.maxPerAddress && !this.evict((c) => c.address === address, 'per_address')) {
      this.refuse(socket);
      return;
    }
    if (this.conns.size >= this.opts.maxConnections && !this.evict(() => true, 'total')) {
      this.refuse(socket);
      return;
    }
    this.conns.set(socket, { address, busy: 0 });
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    socket.once('close', () => {
      if (!this.conns.delete(socket)) return;
      const n = (this.perAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, n);
    });
  }

  /** Move a connection that just finished a request to the young end of the order. */
  private touch(socket: Socket, c: Conn): void {
    if (this.conns.delete(socket)) this.conns.set(socket, c);
  }

  private evict(match: (c: Conn) => boolean, reason: 'total' | 'per_address'): boolean {
    for (const [socket, c] of this.conns) {
      if (c.busy === 0 && match(c)) {
        this.conns.delete(socket);
        const n = (this.perAddress.get(c.address) ?? 1) - 1;
        if (n <= 0) this.perAddress.delete(c.address);
        else this.perAddress.set(c.address, n);
        socket.destroy();
        this.opts.onShed?.(reason);
        return true;
      }
    }
    return false;
  }

  private refuse(socket: Socket): void {
    socket.destroy();
    this.opts.onShed?.('refused');
  }
}
