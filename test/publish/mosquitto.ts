// A real mosquitto broker on a free loopback port, shared with the benchmarks (scripts/mosquitto.ts).
export * from '../../scripts/mosquitto.js';
