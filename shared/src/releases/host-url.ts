/** Health URLs per host: one URL per host in order, or one template with `{host}` for all. */
import { ConfigurationError } from '../errors.js';
import { parseHttpUrl } from '../config/parse.js';
import type { SshTarget } from '../ssh/target.js';

const PLACEHOLDER = '{host}';

export function parseHealthUrlTemplates(input: string, raw: string[], hosts: number): string[] {
  if (raw.length === 0)
    throw new ConfigurationError(
      input,
      'is required: the health URL of the app, e.g. http://{host}:3000/health.',
    );
  if (raw.length !== 1 && raw.length !== hosts) {
    throw new ConfigurationError(
      input,
      `gives ${raw.length} URLs for ${hosts} hosts: give one (with {host} standing for each host) or one per host, in the order of hosts.`,
    );
  }
  for (const template of raw) parseHttpUrl(input, template.split(PLACEHOLDER).join('host.invalid'));
  return raw;
}

export function healthUrlFor(templates: string[], index: number, target: SshTarget): URL {
  const template = templates.length === 1 ? (templates[0] as string) : (templates[index] as string);
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return new URL(template.split(PLACEHOLDER).join(host));
}
