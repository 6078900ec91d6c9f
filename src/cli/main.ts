// The `gate-agent` command line: commander parses, one file per subcommand
// does the work by calling library code.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import * as detect from './detect.js';
import * as compare from './compare.js';
import * as models from './models.js';
import * as events from './events.js';
import * as attendees from './attendees.js';
import * as enroll from './enroll.js';
import * as admin from './admin.js';
import * as run from './run.js';
import * as sync from './sync.js';
import * as doctor from './doctor.js';
import * as serve from './serve.js';
import * as evaluation from './eval.js';
import * as status from './status.js';
import * as fleet from './fleet.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('gate-agent')
    .description('Securegate face-recognition gate agent')
    .version(pkg.version)
    .showHelpAfterError();
  detect.register(program, 'detect');
  detect.register(program, 'embed');
  compare.register(program);
  models.register(program);
  events.register(program);
  attendees.register(program);
  enroll.register(program);
  admin.register(program);
  run.register(program);
  sync.register(program);
  doctor.register(program);
  serve.register(program);
  evaluation.register(program);
  status.register(program);
  fleet.register(program);
  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
