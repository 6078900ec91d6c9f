// The response example from shared/spec/identity-api.txt, verbatim.
// `satisfies` makes tsc check AttendeeSession against it field by field
// (missing or extra properties fail the build); contract.test.ts checks this
// copy against the spec text itself, so the copy cannot drift either.
import type { AttendeeSession } from '../src/store/session-types.js';

export const specSession = {
  "userInfo": {
    "email": "johndoe@example.com",
    "userId": "usr_abc123xyz456",
    "name": "John Doe",
    "phone": "5551234567",
    "countryCode": "+1"
  },
  "authentication": [
    {
      "conditions": [],
      "_id": "auth_789xyz123abc",
      "data": {
        "stepId": "authentication",
        "actionId": "facialRecognition",
        "status": "completed",
        "data": {
          "selfieImage": "https://example.com/storage/selfie-image.png",
          "blobVideoUrl": "https://example.com/storage/verification-video.webm"
        },
        "stepStartTime": "2023-05-10T14:30:00Z",
        "stepEndTime": "2023-05-10T14:32:00Z"
      },
      "parentIds": [],
      "stepId": "authentication"
    }
  ],
  "kyc": [
    {
      "conditions": [],
      "_id": "kyc_456abc789xyz",
      "data": {
        "kyc": {
          "document": {
            "frontImage": {
              "value": "https://example.com/storage/document-front.png",
              "verified": false
            },
            "idType": {
              "value": "drivers-license",
              "verified": true
            },
            "idNumber": {
              "value": "DL1234567",
              "verified": true
            },
            "dateOfExpiry": {
              "value": "2028-05-28",
              "verified": true
            }
          },
          "basicInfo": {
            "firstName": {
              "value": "JOHN",
              "verified": true
            },
            "lastName": {
              "value": "DOE",
              "verified": true
            },
            "dateOfBirth": {
              "value": "1985-07-15",
              "verified": true
            },
            "address": {
              "value": "123 Main Street",
              "verified": true
            },
            "city": {
              "value": "Anytown",
              "verified": true
            },
            "zip": {
              "value": "12345",
              "verified": true
            },
            "country": {
              "value": "USA",
              "verified": true
            },
            "sex": {
              "value": "male",
              "data": "Male"
            }
          }
        },
        "status": "completed",
        "provider": "IDENTITY_PROVIDER"
      },
      "parentIds": [
        "auth_789xyz123abc"
      ],
      "stepId": "kyc"
    }
  ],
  "status": "completed",
  "qrId": "qr_101112131415",
  "activities": [
    {
      "type": "logs",
      "userName": "Automated Compliance Agent",
      "id": "act_20212223242526",
      "metadata": {
        "time": 1683730000000,
        "data": "completed KYC verification",
        "to": "completed",
        "from": "processing",
        "stepId": "kyc"
      }
    }
  ],
  "metadata": {
    "deviceInfo": {
      "name": "John Doe",
      "email": "johndoe@example.com",
      "type": "desktop"
    },
    "geoLocation": {
      "latitude": 37.7749,
      "longitude": -122.4194
    },
    "sessionMetadata": {
      "userAddress": {
        "country_code": "US",
        "city": "San Francisco",
        "region": "California",
        "country": "United States",
        "display_name": "123 Market St, San Francisco, CA 94105, USA"
      },
      "ipAddress": "192.0.2.1",
      "systemData": {
        "browser": {
          "name": "Chrome",
          "version": "112.0.0.0"
        },
        "os": {
          "name": "Windows",
          "version": "11"
        }
      }
    }
  },
  "visitedOrder": [
    "auth_789xyz123abc",
    "kyc_456abc789xyz"
  ]
} satisfies AttendeeSession;
