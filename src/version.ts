// The agent's version, read once from package.json (the one source of it): the CLI's
// --version, the daemon's start line, the MQTT identity and /openapi.json all report it.
import { readFileSync } from 'node:fs';

/** package.json of this installation; its modification time is the install time (doctor's clock check). */
export const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

export const VERSION: string = (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string }).version;
