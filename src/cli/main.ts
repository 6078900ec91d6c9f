// The `gate-agent` command line: commander parses, one file per subcommand
// does the work by calling library code.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('gate-agent')
    .description('Securegate face-recognition gate agent')
    .version(pkg.version)
    .showHelpAfterError();
  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
