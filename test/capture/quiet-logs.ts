// Imported first by every capture test: the capture logs are asserted on where they
// matter (rtsp.test.ts reads them from a child process) and are noise elsewhere.
// GATE_AGENT_LOG_LEVEL=debug on the command line still wins.
process.env.GATE_AGENT_LOG_LEVEL ??= 'silent';
