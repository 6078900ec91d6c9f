// A real MQTT connect with the gate's own credentials and TLS files, for `doctor`: a TCP
// connect alone passes a wrong password or an untrusted certificate.
import { connect, type IClientOptions } from 'mqtt';
import { readTlsFiles, type PublishOptions } from './options.js';
import { describeMqttError, redactUrl } from './publisher.js';
import { errorText } from '../errors.js';

/** null when the broker accepted the connection, else what went wrong (for a technician). */
export async function probeBroker(opts: PublishOptions & { brokerUrl: string }, timeoutMs: number): Promise<string | null> {
  let tls;
  try {
    tls = readTlsFiles(opts);
  } catch (err) {
    return errorText(err);
  }
  const options: IClientOptions = {
    clientId: `gate-agent-doctor-${process.pid}`,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    rejectUnauthorized: true,
    ...(opts.username !== null ? { username: opts.username } : {}),
    ...(opts.password !== null ? { password: opts.password } : {}),
    ...tls,
  };
  return new Promise((resolve) => {
    const client = connect(opts.brokerUrl, options);
    const done = (result: string | null): void => {
      clearTimeout(timer);
      client.end(true);
      resolve(result);
    };
    const timer = setTimeout(() => done(`${redactUrl(opts.brokerUrl)}: no CONNACK within ${timeoutMs} ms; check the network, the port and the broker`), timeoutMs + 500);
    client.once('connect', () => done(null));
    client.once('error', (e: Error) => done(describeMqttError(e)));
  });
}
