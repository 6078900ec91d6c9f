// Small shared pieces of command output and argument checking.
export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseTime(s: string, flag: string): number {
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new UsageError(`${flag} "${s}" is not a date; use ISO 8601 like 2026-12-01T18:00:00Z`);
  return t;
}

/** JSON: one array; otherwise one line per row from `line`. */
export function printRows<T>(json: boolean | undefined, rows: T[], line: (r: T) => string): void {
  if (json) process.stdout.write(JSON.stringify(rows) + '\n');
  else if (rows.length === 0) process.stdout.write('(none)\n');
  else for (const r of rows) process.stdout.write(line(r) + '\n');
}
