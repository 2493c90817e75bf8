/** `traffic-setup`: the nginx upstream that `traffic: nginx` moves between slots, installed once per host. */
import type { Inputs } from '../../config/inputs.js';
import { ConfigurationError } from '../../errors.js';
import { parseAppName } from '../../releases/layout.js';
import { readTrafficOptions } from '../../releases/traffic.js';
import { readHosts, readSshOptions } from '../../ssh/inputs.js';
import { parseNginxPath } from '../maintenance.js';
import { opsSummary, type Operation } from '../operation.js';
import { trafficSetup, type TrafficSetupOptions } from '../traffic-setup.js';

function readTrafficSetup(inputs: Inputs, dryRun: boolean): TrafficSetupOptions {
  const hosts = readHosts(inputs);
  const app = parseAppName('app-name', inputs.string('app-name', { required: true }));
  const siteUrls = inputs.urls('site-url');
  if (siteUrls.length > 1 && siteUrls.length !== hosts.length)
    throw new ConfigurationError(
      'site-url',
      `gives ${siteUrls.length} URLs for ${hosts.length} hosts: give one, or one per host.`,
    );
  const site = inputs.string('nginx-site');
  const appPort = inputs.raw('app-port');
  return {
    hosts,
    ssh: readSshOptions(inputs),
    app,
    traffic: readTrafficOptions(inputs, app),
    ...(site ? { site: parseNginxPath('nginx-site', site) } : {}),
    ...(appPort ? { appPort: inputs.integer('app-port', 0, { min: 1, max: 65535 }) } : {}),
    siteUrls,
    timeoutMs: inputs.duration('timeout', 5000, { min: 100, max: 120_000 }),
    dryRun,
  };
}

export const trafficSetupOperation: Operation = {
  name: 'traffic-setup',
  destructive: false,
  mutates: true,
  summary:
    "for `traffic: nginx`: the upstream file written for the app serving now, the site's proxy_pass pointed at it, `nginx -t`, reload",
  async run(inputs, _context, deps, { dryRun }) {
    const report = await trafficSetup(readTrafficSetup(inputs, dryRun), deps.log);
    return {
      mode: 'traffic-setup',
      outputs: {
        operation: 'traffic-setup',
        result: dryRun ? 'planned' : report.failure ? 'failed' : 'done',
        report: JSON.stringify(report),
      },
      summary: opsSummary(report),
      ...(report.failure ? { failure: report.failure } : {}),
    };
  },
};
