// The session object POST /identity returns, typed after the example in
// shared/spec/identity-api.txt (the spec gives no schema, only that example,
// so every field the example shows is required here). The same shape is
// described for clients in openapi.ts; test/api/contract.test.ts checks both
// against the spec's example.

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

export interface AttendeeSession {
  userInfo: UserInfo;
  authentication: FlowStep<AuthenticationData>[];
  kyc: FlowStep<KycData>[];
  status: string;
  qrId: string;
  activities: Activity[];
  metadata: SessionMetadata;
  /** `_id`s of the flow steps in the order the attendee went through them. */
  visitedOrder: string[];
}
