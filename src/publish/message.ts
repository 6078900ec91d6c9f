// Pure payload builders: no I/O, no clock, no randomness (ids and times come
// in), so the privacy rules are tested directly.
import {
  type AuditRef,
  type Decision,
  type GateBlock,
  type GateEvent,
  type GateEventDetails,
  type GateEventType,
  type IdentitySession,
  type SessionMessage,
  type StatusPayload,
} from './topics.js';
import type { GateIdentity } from './options.js';

/** What the decide stage hands over for one face. */
export interface DecisionInput {
  decision: Decision;
  reason: string;
  similarity: number | null;
  timingsMs: Record<string, number>;
  /** Epoch milliseconds of the decision. */
  atMs: number;
  /** Liveness evidence (mean score over `frames` frames); absent when liveness is off. */
  liveness?: { score: number; frames: number };
  /** The similarity threshold the decision was made at (gallery-aware, docs/accuracy.md); absent when not known. */
  threshold?: number;
}

export interface SessionContext extends Omit<GateIdentity, 'version'> {
  messageId: string;
  audit: AuditRef;
}

// Keys that hold biometric data or pixels; dropped wherever they appear,
// because an upstream object (gallery entry, cached session) may carry them
// by accident and a sessions message goes to every subscriber of the broker.
const BIOMETRIC_KEY = /embed|^descriptors?$|^(face|image|frame)(image|crop|chip|data|bytes|base64|jpe?g|png)?$|^(jpe?g|png|pixels|thumbnail)$/i;
// Embeddings are 128..1024 floats; no contract field is a long number array.
const EMBEDDING_MIN_LENGTH = 64;
// Inline images (data: URIs or long base64 runs); the contract only carries URLs.
const INLINE_IMAGE = /^data:image\//i;
const LONG_BASE64 = /^[A-Za-z0-9+/=\r\n]{2048,}$/;

function isBinary(v: unknown): boolean {
  return Buffer.isBuffer(v) || ArrayBuffer.isView(v) || v instanceof ArrayBuffer;
}

function looksLikeEmbedding(v: unknown[]): boolean {
  return v.length >= EMBEDDING_MIN_LENGTH && v.every((x) => typeof x === 'number');
}

/** Deep copy without biometric keys, binary values, number vectors or inline images. Returns undefined when the value itself must go. */
export function stripBiometrics(value: unknown): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'string' && (INLINE_IMAGE.test(value) || LONG_BASE64.test(value))) return undefined;
    return value;
  }
  if (isBinary(value)) return undefined;
  if (Array.isArray(value)) {
    if (looksLikeEmbedding(value)) return undefined;
    return value.map(stripBiometrics).filter((x) => x !== undefined);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (BIOMETRIC_KEY.test(k)) continue;
    const s = stripBiometrics(v);
    if (s !== undefined) out[k] = s;
  }
  return out;
}

export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

export function buildGateBlock(decision: DecisionInput, ctx: SessionContext): GateBlock {
  // Listed field by field: nothing from the inputs rides along unnoticed.
  const timingsMs: Record<string, number> = {};
  for (const [stage, ms] of Object.entries(decision.timingsMs)) if (Number.isFinite(ms)) timingsMs[stage] = ms;
  return {
    messageId: ctx.messageId,
    gateId: ctx.gateId,
    siteId: ctx.siteId,
    eventId: ctx.eventId,
    decision: decision.decision,
    reason: decision.reason,
    similarity: decision.similarity,
    ...(decision.threshold !== undefined ? { threshold: decision.threshold } : {}),
    timingsMs,
    timestamp: isoOf(decision.atMs),
    modelId: ctx.modelId,
    ...(decision.liveness && { liveness: { score: Math.round(decision.liveness.score * 1000) / 1000, frames: decision.liveness.frames } }),
    audit: { seq: ctx.audit.seq, hash: ctx.audit.hash, prevHash: ctx.audit.prevHash },
  };
}

/**
 * One sessions message. With an attendee: the eight contract keys, in the
 * contract's order, plus `gate`; keys outside the contract are not copied.
 * Without: `gate` alone.
 */
export function buildSessionMessage(
  decision: DecisionInput,
  attendee: IdentitySession | null,
  ctx: SessionContext,
): SessionMessage {
  const gate = buildGateBlock(decision, ctx);
  if (attendee === null) return { gate };
  // Stripping only drops keys and values, so what stays keeps the field's shape.
  const clean = <K extends keyof IdentitySession>(key: K): IdentitySession[K] => (stripBiometrics(attendee[key]) ?? null) as IdentitySession[K];
  // The contract's order (IDENTITY_SESSION_KEYS; test/publish/message.test.ts checks it).
  return {
    userInfo: clean('userInfo'),
    authentication: clean('authentication'),
    kyc: clean('kyc'),
    status: clean('status'),
    qrId: clean('qrId'),
    activities: clean('activities'),
    metadata: clean('metadata'),
    visitedOrder: clean('visitedOrder'),
    gate,
  };
}

/** The part of a decision that goes into the audit chain: the gate block minus its own audit ref, plus who matched. */
export function auditPayloadOfDecision(
  decision: DecisionInput,
  attendee: IdentitySession | null,
  ctx: Omit<SessionContext, 'audit'>,
): Record<string, unknown> {
  const { audit: _audit, ...gate } = buildGateBlock(decision, { ...ctx, audit: { seq: 0, hash: '', prevHash: '' } });
  return { ...gate, userId: attendee?.userInfo.userId ?? null };
}

export function buildEvent<T extends GateEventType>(
  type: T,
  detail: GateEventDetails[T],
  ctx: Omit<GateIdentity, 'version' | 'modelId'> & { messageId: string; atMs: number },
): GateEvent {
  return {
    messageId: ctx.messageId,
    type,
    gateId: ctx.gateId,
    siteId: ctx.siteId,
    eventId: ctx.eventId,
    timestamp: isoOf(ctx.atMs),
    detail,
  } as GateEvent;
}

export function buildStatus(
  state: StatusPayload['state'],
  id: GateIdentity,
  atMs: number,
  reason?: StatusPayload['reason'],
): StatusPayload {
  const s: StatusPayload = {
    state,
    gateId: id.gateId,
    siteId: id.siteId,
    eventId: id.eventId,
    modelId: id.modelId,
    version: id.version,
    timestamp: isoOf(atMs),
  };
  if (reason !== undefined) s.reason = reason;
  return s;
}
