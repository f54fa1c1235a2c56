/** Says so at start when an OTLP receiver listens beyond this machine without TLS or tokens. */
import type { Logger } from '../common/logger';
import type { SightlineConfig } from '../config/schema';
import type { RunningOtlpReceiver } from '../receiver/otlp-receiver';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * The gateway takes spans from other machines, so it warns without TLS or tokens. A sensor's node receiver takes
 * plain OTLP from the apps of its node (the Kubernetes chart admits the cluster's pods only, by NetworkPolicy), so it
 * only notes the absence of tokens.
 */
export function warnIfOpen(config: SightlineConfig, receiver: RunningOtlpReceiver, logger: Logger, role: 'gateway' | 'sensor'): void {
  const { host, auth } = config.receiver;
  if (LOOPBACK.test(host)) return;
  const missing = [
    ...(receiver.tls || role === 'sensor' ? [] : ['TLS (receiver.tls)']),
    ...(auth.tokensDir === undefined ? ['tokens (receiver.auth.tokensDir)'] : []),
  ];
  if (missing.length === 0) return;
  const where = { otlpHost: host, otlpPort: receiver.port };
  const message = `the OTLP receiver listens on ${host}:${receiver.port} without ${missing.join(' or ')}: whoever reaches that address can send spans`;
  if (role === 'gateway') logger.warn(where, `${message}; set them, or receiver.host: 127.0.0.1`);
  else logger.info(where, `${message} (on Kubernetes the sensor chart's NetworkPolicy admits the cluster's pods only)`);
}
