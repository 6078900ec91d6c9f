// Imported first by the API test helpers: the logger reads its level when it
// is first imported, and a few thousand request lines would bury test output.
// GATE_AGENT_LOG_LEVEL set by the caller still wins.
process.env.GATE_AGENT_LOG_LEVEL ??= 'silent';
