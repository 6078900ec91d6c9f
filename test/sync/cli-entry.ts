// `gate-agent` with only the sync command registered, until src/cli/main.ts
// registers it: the tests run the real command in its own process.
import { Command } from 'commander';
import * as sync from '../../src/cli/sync.js';

const program = new Command('gate-agent').showHelpAfterError();
sync.register(program);
await program.parseAsync(process.argv);
