// Can this gate hear its peers? (pure). The answer decides whether fleet.offline applies.
// Peers are known from their retained status (online, with fleet on) and heard through
// their heartbeats; a broken bridge leaves their last retained status "online" while the
// heartbeats stop, which is how a silent peer is told from a stopped one.

export interface PeerView {
  gateId: string;
  /** Its retained status says online, with fleet on. */
  expected: boolean;
  /** Monotonic ms of its last heartbeat or entry heard; null: not heard on this connection. */
  lastHeardMono: number | null;
}

export interface LinkInput {
  /** Our own connection to the broker is up (and subscribed). */
  connected: boolean;
  /** Monotonic ms the connection came up (peers get peerSilenceMs from then to be heard). */
  connectedSinceMono: number | null;
  /** Why we are not connected, in words. */
  connectionError: string | null;
  peers: readonly PeerView[];
  nowMono: number;
  peerSilenceMs: number;
}

export interface LinkState {
  /** Every expected peer was heard within peerSilenceMs over a working connection. */
  hearing: boolean;
  silentPeers: string[];
  /** Expected peers heard within peerSilenceMs. */
  heardPeers: string[];
  detail: string;
}

export function linkState(i: LinkInput): LinkState {
  const expected = i.peers.filter((p) => p.expected);
  if (!i.connected) {
    return { hearing: false, silentPeers: expected.map((p) => p.gateId).sort(), heardPeers: [], detail: `cannot hear the site's other gates: ${i.connectionError ?? 'not connected to the broker'}` };
  }
  const since = i.connectedSinceMono ?? i.nowMono;
  const silent: string[] = [];
  const heard: string[] = [];
  for (const p of expected) {
    const last = p.lastHeardMono ?? since;
    (i.nowMono - last > i.peerSilenceMs ? silent : heard).push(p.gateId);
  }
  silent.sort();
  heard.sort();
  if (silent.length > 0) return { hearing: false, silentPeers: silent, heardPeers: heard, detail: `gate(s) ${silent.join(', ')} silent for more than ${i.peerSilenceMs} ms (their status says online: a broken bridge or network split?)` };
  return { hearing: true, silentPeers: [], heardPeers: heard, detail: heard.length ? `hearing ${heard.length} other gate(s): ${heard.join(', ')}` : 'connected; no other gate of the site online' };
}
