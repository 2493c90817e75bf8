/** `user@host[:port]` as written in workflow inputs, checked once. */
import { ConfigurationError } from '../errors.js';

export interface SshTarget {
  user: string;
  host: string;
  port: number;
}

export function parseSshTarget(input: string, raw: string): SshTarget {
  const text = raw.trim();
  const match = /^([A-Za-z0-9._][A-Za-z0-9._-]*)@(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(
    text,
  );
  if (!match) {
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} is not user@host[:port] (e.g. deploy@203.0.113.10:22).`,
    );
  }
  const port = match[3] === undefined ? 22 : Number(match[3]);
  if (port < 1 || port > 65535) throw new ConfigurationError(input, `port ${port} is out of range 1-65535.`);
  return { user: match[1] as string, host: (match[2] as string).replace(/^\[|\]$/g, ''), port };
}

export function describeTarget(target: SshTarget): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `${target.user}@${host}${target.port === 22 ? '' : `:${target.port}`}`;
}
