// The demo and test clips; built by scripts/clips.ts, which bench:gate uses too.
export * from '../../scripts/clips.js';
