// Sample decisions, a gate identity and the spec's example session, for the publish
// benchmarks and tests (no I/O).
import type { DecisionInput } from '../src/publish/message.js';
import type { GateIdentity } from '../src/publish/options.js';
import type { IdentitySession } from '../src/publish/topics.js';

export const identity: GateIdentity = { gateId: 'g1', siteId: 's1', eventId: 'evt_42', modelId: 'arcface-r100', version: '0.1.0-test' };

export function decision(i: number, d: DecisionInput['decision'] = 'granted'): DecisionInput {
  return { decision: d, reason: d === 'granted' ? 'match' : 'no match', similarity: d === 'unknown' ? null : 0.5 + (i % 40) / 100, timingsMs: { detect: 4.1, embed: 9.7, match: 0.3 }, atMs: 1_700_000_000_000 + i };
}

/** The spec's example session, plus things that must never leave the gate. */
export function sampleSession(userId = 'usr_abc123xyz456'): IdentitySession {
  return {
    userInfo: { email: 'johndoe@example.com', userId, name: 'John Doe', phone: '5551234567', countryCode: '+1' },
    authentication: [
      {
        conditions: [],
        _id: 'auth_789xyz123abc',
        data: {
          stepId: 'authentication',
          actionId: 'facialRecognition',
          status: 'completed',
          data: { selfieImage: 'https://example.com/storage/selfie-image.png', blobVideoUrl: 'https://example.com/storage/verification-video.webm' },
          stepStartTime: '2023-05-10T14:30:00Z',
          stepEndTime: '2023-05-10T14:32:00Z',
        },
        parentIds: [],
        stepId: 'authentication',
      },
    ],
    kyc: [
      {
        conditions: [],
        _id: 'kyc_456abc789xyz',
        data: { kyc: { document: { idType: { value: 'drivers-license', verified: true }, idNumber: { value: 'DL1234567', verified: true } }, basicInfo: { firstName: { value: 'JOHN', verified: true } } }, status: 'completed', provider: 'IDENTITY_PROVIDER' },
        parentIds: ['auth_789xyz123abc'],
        stepId: 'kyc',
      },
    ],
    status: 'completed',
    qrId: 'qr_101112131415',
    activities: [{ type: 'logs', userName: 'Automated Compliance Agent', id: 'act_1', metadata: { time: 1683730000000, data: 'completed KYC verification', to: 'completed', from: 'processing', stepId: 'kyc' } }],
    metadata: { deviceInfo: { name: 'John Doe', email: 'johndoe@example.com', type: 'desktop' }, geoLocation: { latitude: 37.7749, longitude: -122.4194 } },
    visitedOrder: ['auth_789xyz123abc', 'kyc_456abc789xyz'],
  };
}

