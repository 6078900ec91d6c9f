// Sessions made at the gate and the top-level check of sessions from outside. The
// session type itself is the identity contract's, in session-types.ts.
import type { AttendeeSession } from './session-types.js';

export type { Activity, AttendeeSession, UserInfo } from './session-types.js';

/**
 * The `status` of a session made at the gate. The contract's statuses are the
 * verification flow's ("processing" -> "completed", as its example activity
 * shows); a local enrollment has no identity verification (no authentication
 * step, no KYC), so it has not completed one: "processing" is what is true.
 */
export const LOCAL_SESSION_STATUS = 'processing';

/** A session for an attendee enrolled at the gate, with nothing the central server knows. */
export function localSession(userId: string, info: { name?: string; email?: string; phone?: string; countryCode?: string }): AttendeeSession {
  return {
    userInfo: { email: info.email ?? '', userId, name: info.name ?? '', phone: info.phone ?? '', countryCode: info.countryCode ?? '' },
    authentication: [],
    kyc: [],
    status: LOCAL_SESSION_STATUS,
    qrId: '',
    activities: [],
    metadata: {},
    visitedOrder: [],
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What is wrong with a session object from outside, or [] when it has the contract's shape. */
export function sessionProblems(s: unknown): string[] {
  if (!isObj(s)) return ['session must be an object'];
  const p: string[] = [];
  if (!isObj(s.userInfo)) p.push('userInfo must be an object');
  else for (const k of ['email', 'userId', 'name', 'phone', 'countryCode']) if (typeof s.userInfo[k] !== 'string') p.push(`userInfo.${k} must be a string`);
  for (const k of ['authentication', 'kyc', 'activities', 'visitedOrder']) if (!Array.isArray(s[k])) p.push(`${k} must be an array`);
  for (const k of ['status', 'qrId']) if (typeof s[k] !== 'string') p.push(`${k} must be a string`);
  if (!isObj(s.metadata)) p.push('metadata must be an object');
  return p;
}
