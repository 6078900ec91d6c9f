// URL keys: the schema names the schemes a key accepts (`urlSchemes`), and a value without
// one (`127.0.0.1:17883`) or with the wrong one (`http://` for a broker) is refused with
// the URL it should probably be.

/** What scheme to suggest instead of a wrong one, where the allowed list has it. */
const INSTEAD: Record<string, string[]> = { http: ['ws', 'rtsp'], https: ['wss', 'mqtts', 'rtsps'], tcp: ['mqtt'], ssl: ['mqtts'], tls: ['mqtts'], mqtt: ['https'], mqtts: ['https'] };

const list = (schemes: readonly string[]): string => schemes.map((s) => `${s}://`).join(', ');

/** What is wrong with `value` as a URL of one of `schemes`, with the fix; null when fine. */
export function urlSchemeProblem(value: string, schemes: readonly string[]): string | null {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value);
  if (!m) {
    const fixed = `${schemes[0]}://${value.replace(/^\/*/, '')}`;
    return `has no scheme; write it as a URL starting with ${list(schemes)}, e.g. ${JSON.stringify(fixed)}`;
  }
  const scheme = m[1]!.toLowerCase();
  if (!schemes.includes(scheme)) {
    const alt = (INSTEAD[scheme] ?? []).find((s) => schemes.includes(s)) ?? schemes[0]!;
    return `${scheme}:// is not accepted here; use ${list(schemes)}, e.g. ${JSON.stringify(`${alt}://${value.slice(m[0].length)}`)}`;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `is not a valid URL; check the host and port, e.g. "${scheme}://broker.example:1883"`;
  }
  if (!url.hostname) return `has no host; write ${scheme}://HOST[:PORT]`;
  return null;
}
