/** `maintenance-setup`, `maintenance-on`, `maintenance-off`: the nginx maintenance page as a switch. */
import type { Inputs } from '../../config/inputs.js';
import { ConfigurationError } from '../../errors.js';
import { parseAppName } from '../../releases/layout.js';
import { readHosts, readSshOptions } from '../../ssh/inputs.js';
import {
  DEFAULT_PAGE,
  maintenanceSetup,
  maintenanceSwitch,
  parseNginxPath,
  type MaintenanceOptions,
} from '../maintenance.js';
import { opsSummary, type Operation } from '../operation.js';
import type { OpsReport } from '../ops.js';

function readMaintenance(inputs: Inputs, dryRun: boolean): MaintenanceOptions {
  const hosts = readHosts(inputs);
  const app = parseAppName('app-name', inputs.string('app-name', { required: true }));
  const siteUrls = inputs.urls('site-url', { required: true });
  if (siteUrls.length !== 1 && siteUrls.length !== hosts.length)
    throw new ConfigurationError(
      'site-url',
      `gives ${siteUrls.length} URLs for ${hosts.length} hosts: give one, or one per host.`,
    );
  const site = inputs.string('nginx-site');
  return {
    hosts,
    ssh: readSshOptions(inputs),
    siteUrls,
    snippet: parseNginxPath(
      'nginx-snippet',
      inputs.string('nginx-snippet') ?? `/etc/nginx/snippets/${app}-maintenance.conf`,
    ),
    flag: parseNginxPath(
      'maintenance-flag',
      inputs.string('maintenance-flag') ?? `/var/www/maintenance/${app}.on`,
    ),
    pageDir: parseNginxPath(
      'maintenance-page-dir',
      inputs.string('maintenance-page-dir') ?? `/var/www/maintenance/${app}`,
    ),
    page: inputs.raw('maintenance-page') || DEFAULT_PAGE,
    ...(site ? { site: parseNginxPath('nginx-site', site) } : {}),
    testCommand: inputs.string('nginx-test-command') ?? 'nginx -t',
    reloadCommand: inputs.string('nginx-reload-command') ?? 'nginx -s reload',
    timeoutMs: inputs.duration('timeout', 5000, { min: 100, max: 120_000 }),
    dryRun,
  };
}

function maintenanceOperation(
  name: string,
  destructive: boolean,
  summary: string,
  act: (options: MaintenanceOptions, log: Parameters<typeof maintenanceSetup>[1]) => Promise<OpsReport>,
): Operation {
  return {
    name,
    destructive,
    mutates: true,
    summary,
    async run(inputs, _context, deps, { dryRun }) {
      const report = await act(readMaintenance(inputs, dryRun), deps.log);
      return {
        mode: name,
        outputs: {
          operation: name,
          result: dryRun ? 'planned' : report.failure ? 'failed' : 'done',
          report: JSON.stringify(report),
        },
        summary: opsSummary(report),
        ...(report.failure ? { failure: report.failure } : {}),
      };
    },
  };
}

export const maintenanceOperations: Operation[] = [
  maintenanceOperation(
    'maintenance-setup',
    false,
    'install the nginx snippet and page, `nginx -t`, reload',
    maintenanceSetup,
  ),
  // The page replaces the app for every user: confirmed. Taking it down gives the app back.
  maintenanceOperation(
    'maintenance-on',
    true,
    'the maintenance flag set, the page verified at `site-url`',
    (o, log) => maintenanceSwitch(true, o, log),
  ),
  maintenanceOperation(
    'maintenance-off',
    false,
    'the maintenance flag removed, the app verified at `site-url`',
    (o, log) => maintenanceSwitch(false, o, log),
  ),
];
