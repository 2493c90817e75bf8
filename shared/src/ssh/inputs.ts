/** The SSH inputs shared by every action that reaches a host. */
import type { Inputs } from '../config/inputs.js';
import { ConfigurationError } from '../errors.js';
import type { SshOptions } from './connect.js';
import { parseFingerprint, parseKnownHosts } from './host-keys.js';
import { parseSshTarget, type SshTarget } from './target.js';

export function readHosts(inputs: Inputs): SshTarget[] {
  const hosts = inputs.list('hosts', { required: true }).map((raw) => parseSshTarget('hosts', raw));
  const seen = new Set<string>();
  for (const host of hosts) {
    const key = `${host.user}@${host.host}:${host.port}`;
    if (seen.has(key)) throw new ConfigurationError('hosts', `${key} is listed twice.`);
    seen.add(key);
  }
  return hosts;
}

export function readSshOptions(inputs: Inputs): SshOptions {
  const privateKey = inputs.secret('ssh-key', { required: true });
  const passphrase = inputs.secret('ssh-key-passphrase');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(privateKey)) {
    throw new ConfigurationError(
      'ssh-key',
      'is not a private key in PEM/OpenSSH form (-----BEGIN … PRIVATE KEY-----); the value is not shown.',
    );
  }
  const knownHosts = parseKnownHosts('known-hosts', inputs.raw('known-hosts'));
  const fingerprints = inputs
    .list('host-fingerprint')
    .map((raw) => parseFingerprint('host-fingerprint', raw));
  const insecureSkip = inputs.boolean('insecure-skip-host-key-check', false);
  if (!insecureSkip && knownHosts.length === 0 && fingerprints.length === 0) {
    throw new ConfigurationError(
      'known-hosts',
      'or host-fingerprint is required to verify the host key (get it with `ssh-keyscan -p PORT HOST`); set insecure-skip-host-key-check: true only if you accept the risk.',
    );
  }
  const proxy = inputs.string('proxy-host');
  return {
    privateKey,
    ...(passphrase ? { passphrase } : {}),
    hostKeys: { knownHosts, fingerprints, insecureSkip },
    connectTimeoutMs: inputs.duration('connect-timeout', 10_000, { min: 100, max: 300_000 }),
    connectAttempts: inputs.integer('connect-attempts', 3, { min: 1, max: 20 }),
    retry: { initialMs: 1000, factor: 2, maxMs: 15_000, jitter: 0.2 },
    commandTimeoutMs: inputs.duration('command-timeout', 300_000, { min: 1000, max: 6 * 3_600_000 }),
    ...(proxy ? { proxy: parseSshTarget('proxy-host', proxy) } : {}),
  };
}
