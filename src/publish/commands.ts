// Remote commands: parse, route to the handler the daemon registered, and
// always produce exactly one response, for malformed and unknown requests too
// (a silent broker-side failure looks like a dead gate to the operator).
import { AUDITED_COMMANDS, type CommandName, type CommandResponse, type Commands } from './topics.js';
import { errorText } from '../errors.js';

export type CommandHandler<N extends CommandName> = (
  params: Commands[N]['params'],
  request: { id: string },
) => Promise<Commands[N]['result']> | Commands[N]['result'];

export type ParsedRequest = { ok: true; id: string; params: Record<string, unknown> } | { ok: false; id: string | null; error: string };

const MAX_ID_LENGTH = 200;

export function parseCommandRequest(payload: Buffer | string): ParsedRequest {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString());
  } catch {
    return { ok: false, id: null, error: 'malformed payload: not JSON; send {"id": "<string>", "params": {...}}' };
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    return { ok: false, id: null, error: 'malformed payload: expected a JSON object {"id": "<string>", "params": {...}}' };
  }
  const o = v as Record<string, unknown>;
  const rawId = o.id;
  const id = typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId).slice(0, MAX_ID_LENGTH) : null;
  if (id === null || id === '') return { ok: false, id: null, error: 'malformed payload: "id" must be a non-empty string' };
  const params = o.params ?? {};
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    return { ok: false, id, error: 'malformed payload: "params" must be an object when present' };
  }
  return { ok: true, id, params: params as Record<string, unknown> };
}

/** Called before an audited command's handler; throwing refuses the command. */
export type AuditHook = (name: string, id: string, params: Record<string, unknown>) => void;

export class CommandRouter {
  private readonly handlers = new Map<string, (params: Record<string, unknown>, req: { id: string }) => unknown>();

  constructor(private readonly audit: AuditHook) {}

  register<N extends CommandName>(name: N, handler: CommandHandler<N>): void {
    this.handlers.set(name, handler as (params: Record<string, unknown>, req: { id: string }) => unknown);
  }

  names(): string[] {
    return [...this.handlers.keys()].sort();
  }

  async handle(name: string, payload: Buffer | string): Promise<CommandResponse> {
    const req = parseCommandRequest(payload);
    if (!req.ok) return { id: req.id, ok: false, error: req.error };
    const handler = this.handlers.get(name);
    if (handler === undefined) {
      return { id: req.id, ok: false, error: `unknown command "${name}"; available: ${this.names().join(', ') || 'none'}` };
    }
    try {
      // Audit first: if the record cannot be written the door must not open.
      if (AUDITED_COMMANDS.has(name)) this.audit(name, req.id, req.params);
      const result = (await handler(req.params, { id: req.id })) as Commands[CommandName]['result'];
      return { id: req.id, ok: true, result };
    } catch (e) {
      return { id: req.id, ok: false, error: errorText(e) };
    }
  }
}
