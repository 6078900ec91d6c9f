// Questions on a terminal, each with a default taken on Enter. Lines are read through one
// async iterator, so answers typed (or pasted) ahead of their question are kept, not lost.
import { createInterface } from 'node:readline';

export interface Prompter {
  ask(question: string, def: string): Promise<string>;
  close(): void;
}

export function terminalPrompter(input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stderr): Prompter {
  const rl = createInterface({ input, output, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  return {
    async ask(question, def) {
      output.write(`${question}${def ? ` [${def}]` : ''}: `);
      const next = await lines.next();
      if (next.done) throw new Error('input ended before every question was answered');
      const answer = next.value.trim();
      return answer === '' ? def : answer;
    },
    close: () => rl.close(),
  };
}
