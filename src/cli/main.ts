// The `gate-agent` command line: commander parses, one file per subcommand
// does the work by calling library code.
import { Command, Help, type Option } from 'commander';
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
import * as camera from './camera.js';
import { addExamples } from './examples.js';
import { REPORTED, jsonErrorsOn, setJsonErrors, withGlobalOptions } from './common.js';
import { VERSION } from '../version.js';

export function buildProgram(): Command {
  const program = new Command('gate-agent')
    .description('Securegate face-recognition gate agent')
    .version(VERSION)
    .showHelpAfterError()
    // Inherited by every command registered below.
    .configureHelp({ optionDescription: (o: Option) => `${Help.prototype.optionDescription.call(new Help(), o)}${o.mandatory ? ' (required)' : ''}` })
    .configureOutput({
      // With --json, commander's own errors (unknown option, missing argument) are JSON on stdout too.
      outputError: (str, write) => (jsonErrorsOn() ? process.stdout.write(JSON.stringify({ error: str.trim().replace(/^error: /, '') }) + '\n') : write(str)),
    });
  withGlobalOptions(program);
  program.addHelpText(
    'after',
    '\nThe options above work before or after a command. Without --config the config is\n/etc/gate-agent/config.yaml when it exists; every command says which one it uses.\n\nExample:\n  $ gate-agent --config /etc/gate-agent/config.yaml doctor\n  $ gate-agent status --json\n',
  );
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
  camera.register(program);
  addExamples(program);
  return program;
}

/** The arguments given before `--`: where a shared flag like --json counts. */
const optionArgs = (argv: string[]): string[] => {
  const end = argv.indexOf('--');
  return end < 0 ? argv : argv.slice(0, end);
};

export async function runCli(argv: string[]): Promise<void> {
  setJsonErrors(optionArgs(argv.slice(2)).includes('--json'));
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    // An unexpected failure: with --json it is still one JSON object, with a failing exit code.
    if (!jsonErrorsOn() || !(err instanceof Error) || (err as { [REPORTED]?: boolean })[REPORTED]) throw err;
    process.stdout.write(JSON.stringify({ error: err.message }) + '\n');
    process.exitCode = 1;
  }
}
