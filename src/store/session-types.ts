// The attendee's session: the one type the store keeps, the identity endpoint
// returns and the MQTT sessions message carries, typed after the example in
// shared/spec/identity-api.txt (the spec gives no schema, only that example,
// so every field the example shows is required here). The same shape is
// described for clients in openapi.ts; test/api/contract.test.ts checks both
// against the spec's example.
//
// Sessions are stored as the central server sent them: store/session.ts checks
// their top level (sessionProblems); the flow steps and metadata inside are passed
// through, not invented (AsSent), and a session made at the gate has none: no steps,
// `metadata` `{}`. Activities are the gate's own writing too, so they are whole.

export interface UserInfo {
  email: string;
  userId: string;
  name: string;
  phone: string;
  countryCode: string;
}

/** A step of the central server's verification flow (authentication, kyc). */
export interface FlowStep<D> {
  conditions: unknown[];
  _id: string;
  data: D;
  parentIds: string[];
  stepId: string;
}

export interface AuthenticationData {
  stepId: string;
  actionId: string;
  status: string;
  data: {
    selfieImage: string;
    blobVideoUrl: string;
  };
  /** ISO 8601. */
  stepStartTime: string;
  /** ISO 8601. */
  stepEndTime: string;
}

export interface VerifiedField {
  value: string;
  verified: boolean;
}

export interface KycDocument {
  frontImage: VerifiedField;
  idType: VerifiedField;
  idNumber: VerifiedField;
  dateOfExpiry: VerifiedField;
}

export interface KycBasicInfo {
  firstName: VerifiedField;
  lastName: VerifiedField;
  dateOfBirth: VerifiedField;
  address: VerifiedField;
  city: VerifiedField;
  zip: VerifiedField;
  country: VerifiedField;
  /** The example carries a display form in `data` instead of `verified`. */
  sex: { value: string; data: string };
}

export interface KycData {
  kyc: {
    document: KycDocument;
    basicInfo: KycBasicInfo;
  };
  status: string;
  provider: string;
}

export interface Activity {
  type: string;
  userName: string;
  id: string;
  metadata: {
    /** Epoch milliseconds. */
    time: number;
    data: string;
    to: string;
    from: string;
    stepId: string;
  };
}

export interface SessionMetadata {
  deviceInfo: { name: string; email: string; type: string };
  geoLocation: { latitude: number; longitude: number };
  sessionMetadata: {
    userAddress: {
      country_code: string;
      city: string;
      region: string;
      country: string;
      display_name: string;
    };
    ipAddress: string;
    systemData: {
      browser: { name: string; version: string };
      os: { name: string; version: string };
    };
  };
}

/** Content as the central server sent it: the spec's fields, any of which may be missing. */
export type AsSent<T> = T extends readonly (infer E)[] ? AsSent<E>[] : T extends object ? { [K in keyof T]?: AsSent<T[K]> } : T;

export interface AttendeeSession {
  userInfo: UserInfo;
  authentication: AsSent<FlowStep<AuthenticationData>>[];
  kyc: AsSent<FlowStep<KycData>>[];
  status: string;
  qrId: string;
  activities: Activity[];
  metadata: AsSent<SessionMetadata>;
  /** `_id`s of the flow steps in the order the attendee went through them. */
  visitedOrder: string[];
}
