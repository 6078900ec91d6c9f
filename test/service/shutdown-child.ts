// A small daemon for shutdown.test.ts: a started sim relay mid-pulse plus
// components that behave as argv[2] says, under the real signal handlers.
// Prints one line per event so the parent can check the order.
import { installRelayFailSafe, SimRelay } from '../../src/relay/index.js';
import { Shutdown, type Stoppable } from '../../src/service/shutdown.js';

const mode = process.argv[2] ?? 'normal';
const say = (line: string): void => void process.stdout.write(`${line}\n`);

const relay = new SimRelay({ pulseMs: 60_000 });
const tracked = { safe: () => { say('safe'); relay.safe(); } };
const component = (name: string, stop: () => Promise<void> | void): Stoppable => ({
  name,
  stop: () => {
    say(`stop:${name} relay-active=${relay.isActive()}`);
    return stop();
  },
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const components: Stoppable[] = [
  component('capture', () => (mode === 'slow' ? sleep(300) : undefined)),
  component('mqtt', () => {
    if (mode === 'failing') throw new Error('broker gone');
    if (mode === 'hang') return new Promise<void>(() => setInterval(() => undefined, 1000));
  }),
  component('store', () => undefined),
];

installRelayFailSafe(tracked);
new Shutdown({ relay: tracked, components, deadlineMs: 400 }).install();
await relay.start();
await relay.pulse();
setInterval(() => undefined, 1000);
say('ready');
