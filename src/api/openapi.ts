// The OpenAPI 3 document served at GET /openapi.json. The session schema
// mirrors src/store/session-types.ts; the contract test validates the spec's example
// against it, so the two cannot drift apart silently. Objects allow extra
// properties: the central server may add fields, and clients must tolerate them.

type Schema = Record<string, unknown>;

const str: Schema = { type: 'string' };
const num: Schema = { type: 'number' };
const bool: Schema = { type: 'boolean' };
const arr = (items: Schema): Schema => ({ type: 'array', items });
const obj = (properties: Record<string, Schema>): Schema => ({
  type: 'object',
  required: Object.keys(properties),
  properties,
  additionalProperties: true,
});

const verified = obj({ value: str, verified: bool });
const step = (data: Schema): Schema => obj({ conditions: arr({}), _id: str, data, parentIds: arr(str), stepId: str });

export const sessionSchema: Schema = obj({
  userInfo: obj({ email: str, userId: str, name: str, phone: str, countryCode: str }),
  authentication: arr(
    step(
      obj({
        stepId: str,
        actionId: str,
        status: str,
        data: obj({ selfieImage: str, blobVideoUrl: str }),
        stepStartTime: { type: 'string', format: 'date-time' },
        stepEndTime: { type: 'string', format: 'date-time' },
      }),
    ),
  ),
  kyc: arr(
    step(
      obj({
        kyc: obj({
          document: obj({ frontImage: verified, idType: verified, idNumber: verified, dateOfExpiry: verified }),
          basicInfo: obj({
            firstName: verified,
            lastName: verified,
            dateOfBirth: verified,
            address: verified,
            city: verified,
            zip: verified,
            country: verified,
            sex: obj({ value: str, data: str }),
          }),
        }),
        status: str,
        provider: str,
      }),
    ),
  ),
  status: str,
  qrId: str,
  activities: arr(
    obj({
      type: str,
      userName: str,
      id: str,
      metadata: obj({ time: { type: 'integer', description: 'Epoch milliseconds.' }, data: str, to: str, from: str, stepId: str }),
    }),
  ),
  metadata: obj({
    deviceInfo: obj({ name: str, email: str, type: str }),
    geoLocation: obj({ latitude: num, longitude: num }),
    sessionMetadata: obj({
      userAddress: obj({ country_code: str, city: str, region: str, country: str, display_name: str }),
      ipAddress: str,
      systemData: obj({ browser: obj({ name: str, version: str }), os: obj({ name: str, version: str }) }),
    }),
  }),
  visitedOrder: arr(str),
});

/** Every error status POST /identity answers with, and when. */
export const IDENTITY_ERRORS: Readonly<Record<string, string>> = {
  '400': 'The image could not be obtained: host refused by the SSRF policy, unreachable, timed out, non-2xx answer, too many redirects, or a file: path outside the snapshot directory.',
  '401': 'The x-api-key header is missing, unknown or revoked.',
  '404': 'The event_id is not in the local attendee cache, or the face matches no registered attendee of the event.',
  '405': 'Wrong HTTP method; use POST.',
  '413': 'The image (or the request body, which should be empty) is larger than the configured limit.',
  '415': 'The image is not a JPEG, PNG or WebP (checked by magic bytes), or could not be decoded.',
  '422': 'event_id or image_url is missing, repeated or malformed, no face was found in the image, or (liveness.mode required) the face did not pass the liveness check.',
  '429': 'Too many requests from this API key or client address; retry after the Retry-After header.',
  '503': 'The recognition service failed or the server is shutting down; retry.',
};

export function buildOpenApi(version: string): Schema {
  const errorRef = { $ref: '#/components/schemas/Error' };
  const errorResponses = Object.fromEntries(
    Object.entries(IDENTITY_ERRORS).map(([code, description]) => [code, { description, content: { 'application/json': { schema: errorRef } } }]),
  );
  return {
    openapi: '3.0.3',
    info: {
      title: 'Securegate gate agent identity API',
      version,
      description: 'Local identity endpoint of a Securegate gate: recognises a face against the attendee cache of an event and returns the attendee session.',
    },
    components: {
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
      schemas: {
        AttendeeSession: sessionSchema,
        Error: obj({ detail: { type: 'string', description: 'What is wrong and what to do about it.' } }),
      },
    },
    paths: {
      '/identity': {
        post: {
          summary: 'Get Session From Image',
          operationId: 'identify',
          security: [{ apiKey: [] }],
          parameters: [
            { name: 'event_id', in: 'query', required: true, schema: { type: 'string', minLength: 1, maxLength: 200 }, description: 'The unique identifier of the event.' },
            {
              name: 'image_url',
              in: 'query',
              required: true,
              schema: { type: 'string', minLength: 1 },
              description: 'URL of the image: http(s) (public hosts, or LAN hosts on the allow-list), data:image/...;base64, or file: inside the snapshot directory.',
            },
          ],
          responses: {
            '200': { description: 'The identified attendee session.', content: { 'application/json': { schema: { $ref: '#/components/schemas/AttendeeSession' } } } },
            ...errorResponses,
          },
        },
      },
      '/healthz': {
        get: {
          summary: 'Liveness and readiness',
          responses: {
            '200': { description: 'Alive and ready.', content: { 'application/json': { schema: { type: 'object' } } } },
            '503': { description: 'Alive but not ready; `checks` says why.', content: { 'application/json': { schema: { type: 'object' } } } },
          },
        },
      },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'Text format 0.0.4.', content: { 'text/plain': { schema: str } } } } } },
      '/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3 document.', content: { 'application/json': { schema: { type: 'object' } } } } } } },
    },
  };
}
