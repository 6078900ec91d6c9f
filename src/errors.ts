// The text of a thrown value, for messages and log lines. JavaScript lets anything be
// thrown (a string from a callback library, an object from a worker), so callers never
// cast with `(err as Error).message`, which reads undefined from a thrown string.

/** The message of an Error, or the thrown value as text. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') return (err as { message: string }).message;
  return String(err);
}

/** The errno-style code of a thrown value (`ECONNREFUSED`, `ENOENT`), or undefined. */
export function errorCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}
