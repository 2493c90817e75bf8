/**
 * Redaction for what is read off a host (logs, command output): the secret-looking values of its env
 * file and the shapes of secrets nobody listed. Diagnose and the ops' logs share it.
 */
import { EnvFile } from '../envfile/envfile.js';
import { readRemoteEnv } from '../envfile/remote.js';
import type { SshSession } from '../ssh/session.js';

/** Bearer tokens, passwords in URLs, `password=` pairs: shapes of secrets nobody listed. */
export function redactShapes(text: string): string {
  return text
    .replace(/\b(Bearer|Basic|token)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 ***')
    .replace(/(\w+:\/\/[^:/\s@]*:)[^@\s/]+@/g, '$1***@')
    .replace(/\b((?:pass(?:word)?|secret|token|api[_-]?key)\s*[=:]\s*)[^\s&,;"']+/gi, '$1***');
}

/**
 * Env values worth masking: those of keys that name a secret, and long opaque ones. Masking every
 * value would hide the host's own address (HOST=127.0.0.1) and ports from the report that needs them.
 */
export function secretLooking(key: string, value: string): boolean {
  if (value.length < 6 || /^(true|false|yes|no|on|off|\d+(\.\d+)?)$/i.test(value)) return false;
  return (
    /SECRET|KEY|TOKEN|PASS|PWD|AUTH|CREDENTIAL|PRIVATE|SIGNATURE|SALT|DSN|URL|URI/i.test(key) ||
    value.length >= 20
  );
}

/** Masks the env file's secret-looking values; false when the file could not be read. */
export async function maskEnvValues(
  session: SshSession,
  envFile: string,
  mask: (value: string) => void,
): Promise<boolean> {
  const text = await readRemoteEnv(session, envFile).catch(() => undefined);
  if (text === undefined) return false;
  const env = EnvFile.parse(text);
  for (const key of env.keys()) {
    const value = env.get(key);
    if (value && secretLooking(key, value)) mask(value);
  }
  return true;
}
