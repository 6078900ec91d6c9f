#!/usr/bin/env node
// Entry point for `gate-agent` / `npx gate-agent`. The TypeScript sources are
// compiled to dist/ by `npm ci` (the package's prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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
