/** The inputs of action-diagnose's `mode: status` (and `runbook status`), read one way for both. */
import type { Inputs } from '../config/inputs.js';
import { ConfigurationError } from '../errors.js';
import { readHealthCriteria } from '../health/inputs.js';
import { readEnvFileLocation } from '../envfile/inputs.js';
import { parseHealthUrlTemplates } from '../releases/host-url.js';
import { parseAppDir, parseAppName } from '../releases/layout.js';
import { readSshOptions } from '../ssh/inputs.js';
import { parseSshTarget } from '../ssh/target.js';
import type { StatusOptions } from './status.js';

export function readStatusOptions(inputs: Inputs): StatusOptions {
  const ssh = readSshOptions(inputs);
  const hosts = inputs.list('hosts').map((raw) => parseSshTarget('hosts', raw));
  if (!hosts.length)
    throw new ConfigurationError('hosts', 'is required for mode: status (the hosts to read).');
  const app = parseAppName('app-name', inputs.string('app-name', { required: true }));
  const appDir = parseAppDir('app-dir', inputs.string('app-dir', { required: true }));
  const health = readHealthCriteria(inputs);
  return {
    hosts,
    ssh,
    app,
    appDir,
    envFile: readEnvFileLocation(inputs, appDir) as string,
    healthUrls: inputs.list('health-url').length
      ? parseHealthUrlTemplates('health-url', inputs.list('health-url'), hosts.length)
      : [],
    health,
  };
}
