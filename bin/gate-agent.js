#!/usr/bin/env node
// Entry point for `gate-agent` / `npx gate-agent`. The TypeScript sources are
// compiled to dist/ by `npm ci` (the package's prepare script).
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

// The libuv pool (sharp's work, file I/O) sized from the core count before anything
// starts it; an explicit UV_THREADPOOL_SIZE wins. Same rule as uvThreadpoolSize() in
// src/app/thread-budget.ts (docs/benchmarks.md, thread budget).
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(2, Math.min(4, availableParallelism())));

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('gate-agent: dist/ is missing. Run `npm ci` (or `npm run build`) in the project folder first.');
  process.exit(1);
}
// Output piped into a reader that stops early (`gate-agent config show | head`): end quietly.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const { runCli } = await import(main.href);
await runCli(process.argv);
