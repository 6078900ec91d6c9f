// The publish module's public surface, for the composition root and the CLI.
export { defaults, backoffMs, baseTopicOf, clientIdOf, readTlsFiles } from './options.js';
export type { PublishOptions, GateIdentity, TlsMaterial } from './options.js';
export * from './topics.js';
export { buildSessionMessage, buildGateBlock, buildEvent, buildStatus, stripBiometrics, auditPayloadOfDecision } from './message.js';
export type { DecisionInput, SessionContext } from './message.js';
export { Outbox } from './outbox.js';
export type { OutboxRow, OutboxOptions, RecordedMessage } from './outbox.js';
export { appendAudit, verifyAuditChain, auditVerifyReport, canonicalJson, auditHash, GENESIS_HASH } from './audit.js';
export type { AuditVerification } from './audit.js';
export { CommandRouter, parseCommandRequest } from './commands.js';
export type { CommandHandler, ParsedRequest } from './commands.js';
export { MqttPublisher, describeMqttError, redactUrl } from './publisher.js';
export type { Publisher, PublisherDeps, PublisherState, PublisherStatus } from './publisher.js';
