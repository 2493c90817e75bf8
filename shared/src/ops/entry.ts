/** The one entry of action-ops and `runbook ops <operation>`: read the operation's inputs, run it, give outputs, a summary and an incident report. */
import { resolve } from 'node:path';
import type { Inputs } from '../config/inputs.js';
import { parseChoice } from '../config/parse.js';
import { ConfigurationError } from '../errors.js';
import { incidentMarkdown, writeIncident, type Incident } from '../incident/report.js';
import type { Log } from '../log.js';
import type { ModeResult } from '../result.js';
import { markdownTable } from '../report/markdown.js';
import { readReleaseTarget } from '../releases/inputs.js';
import type { RunContext } from '../result.js';
import { parseAppDir, parseAppName } from '../releases/layout.js';
import { readEnvFile } from '../envfile/inputs.js';
import type { SecretTarget } from '../secrets/secret-hosts.js';
import { readHosts, readSshOptions } from '../ssh/inputs.js';
import { flushCache } from './flush-cache.js';
import { fetchLogs } from './logs.js';
import { certificates } from './certificates.js';
import { parseRedisUrl } from '../diagnose/inputs.js';
import { checkLogrotate, parseWanted } from './logrotate.js';
import {
  DEFAULT_PAGE,
  maintenanceSetup,
  maintenanceSwitch,
  parseNginxPath,
  type MaintenanceOptions,
} from './maintenance.js';
import {
  PM2_OPERATIONS,
  checkConfirmed,
  parseSettings,
  pm2Operation,
  setEnv,
  type OpsReport,
  type Pm2Operation,
} from './ops.js';

export const OPERATIONS = [
  ...PM2_OPERATIONS,
  'set-env',
  'flush-cache',
  'logs',
  'maintenance-setup',
  'maintenance-on',
  'maintenance-off',
  'logrotate',
  'certificates',
] as const;
const DESTRUCTIVE = ['stop', 'set-env', 'flush-cache', 'maintenance-on'];

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

function readTarget(inputs: Inputs, context: RunContext): SecretTarget {
  const target = readReleaseTarget(inputs, context);
  return {
    ...target,
    // The env-file host reader of the rotation core, used for its file and pm2 reading: no key of its own.
    name: '_',
    previousName: '_',
    ...readEnvFile(inputs, target.appDir),
    keepBackups: inputs.integer('keep-backups', 5, { min: 1, max: 100 }),
    verifyUrls: [],
    dryRun: inputs.boolean('dry-run', false),
  };
}

export async function runOps(
  inputs: Inputs,
  context: RunContext,
  deps: { log: Log; signal?: AbortSignal; env?: NodeJS.ProcessEnv },
): Promise<ModeResult> {
  const operation = parseChoice('operation', inputs.string('operation', { required: true }), OPERATIONS);
  const secrets = inputs
    .raw('redact')
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s.length >= 4);
  secrets.forEach((s) => inputs.mask(s));
  const redisRaw = inputs.secret('redis-url');
  const dryRun = inputs.boolean('dry-run', false);
  const renew = operation === 'certificates' && inputs.boolean('renew', false);
  if ((DESTRUCTIVE.includes(operation) || renew) && !dryRun) {
    const app = inputs.string('app-name');
    const expected = inputs.string('confirm-expected') ?? (app ? parseAppName('app-name', app) : undefined);
    if (!expected)
      throw new ConfigurationError(
        'confirm-expected',
        `is required for ${operation} when app-name is not given.`,
      );
    checkConfirmed(renew ? 'certificate renewal' : operation, inputs.string('confirm'), expected);
  }
  const started = new Date();
  if (operation === 'flush-cache') {
    if (!redisRaw) throw new ConfigurationError('redis-url', 'is required for flush-cache.');
    const url = parseRedisUrl(inputs, 'redis-url', redisRaw);
    const db = inputs.integer('redis-db', Number(url.pathname.replace(/^\//, '') || 0), {
      min: 0,
      max: 1000,
    });
    const result = await flushCache(url, db, dryRun, 10_000);
    deps.log.info(
      `${dryRun ? '[dry-run] would FLUSHDB' : 'FLUSHDB'} ${result.where}: ${result.keysBefore} key(s) before${result.flushed ? `, ${result.keysAfter} after` : ''}`,
    );
    return {
      mode: operation,
      outputs: { operation, result: dryRun ? 'planned' : 'done', report: JSON.stringify(result) },
      summary: `## ops flush-cache\n\n${dryRun ? 'Dry run: would flush' : 'Flushed'} ${result.where}: ${result.keysBefore} key(s) before${result.flushed ? `, ${result.keysAfter} after` : ''}.`,
    };
  }
  if (operation === 'logs') {
    const appDirRaw = inputs.string('app-dir');
    const extracts = await fetchLogs(
      {
        hosts: readHosts(inputs),
        ssh: readSshOptions(inputs),
        app: parseAppName('app-name', inputs.string('app-name', { required: true })),
        ...(appDirRaw ? { envFile: readEnvFile(inputs, parseAppDir('app-dir', appDirRaw)).envFile } : {}),
        kind: inputs.choice('log-kind', ['err', 'out', 'both'] as const, 'both'),
        lines: inputs.integer('lines', 100, { min: 1, max: 100_000 }),
        ...(inputs.string('pattern') ? { pattern: inputs.raw('pattern') } : {}),
        ...(inputs.optionalDuration('since', { min: 1000 }) !== undefined
          ? { sinceMs: inputs.optionalDuration('since', { min: 1000 }) as number }
          : {}),
        // Beside the runner's other files by default, for actions/upload-artifact.
        outputDir: inputs.string('output-dir')
          ? resolve(inputs.string('output-dir') as string)
          : resolve((deps.env ?? process.env).RUNNER_TEMP ?? '.', 'logs'),
        secrets,
      },
      deps,
    );
    for (const e of extracts)
      deps.log.info(
        `${e.host} ${e.kind}: ${e.matched} line(s) matched, ${e.kept} kept → ${e.file}${e.note ? ` (${e.note})` : ''}`,
      );
    return {
      mode: operation,
      outputs: { operation, result: 'done', report: JSON.stringify(extracts) },
      summary: [
        '## ops logs',
        '',
        markdownTable(
          ['Host', 'Log', 'Matched', 'Kept', 'File', 'Note'],
          extracts.map((e) => [
            e.host,
            `${e.kind} (${e.path})`,
            String(e.matched),
            String(e.kept),
            e.file,
            e.note ?? '',
          ]),
        ),
      ].join('\n'),
    };
  }
  if (operation === 'certificates') {
    const hosts = await certificates(
      {
        hosts: readHosts(inputs),
        ssh: readSshOptions(inputs),
        certbotCommand: inputs.string('certbot-command') ?? 'certbot',
        warnDays: inputs.integer('cert-warn-days', 14, { min: 0, max: 365 }),
        renew,
        testCommand: inputs.string('nginx-test-command') ?? 'nginx -t',
        reloadCommand: inputs.string('nginx-reload-command') ?? 'nginx -s reload',
        dryRun,
      },
      deps.log,
    );
    return {
      mode: operation,
      outputs: { operation, result: dryRun && renew ? 'planned' : 'done', report: JSON.stringify(hosts) },
      summary: [
        '## ops certificates',
        '',
        markdownTable(
          ['Host', 'Certificate', 'Domains', 'Expiry', 'Days left', 'Status'],
          hosts.flatMap((x) =>
            x.certificates.map((c) => [
              x.host,
              c.name,
              c.domains.join(' '),
              c.expiry,
              c.daysLeft === undefined ? '' : String(c.daysLeft),
              c.status,
            ]),
          ),
        ),
        '',
        ...hosts.flatMap((x) => [
          ...(x.renewed ? [`- ${x.host}: renewed — ${x.renewed}`] : []),
          ...x.warnings.map((w) => `- ⚠️ ${x.host}: ${w}`),
        ]),
      ].join('\n'),
    };
  }
  if (operation === 'logrotate') {
    const hosts = await checkLogrotate(
      {
        hosts: readHosts(inputs),
        ssh: readSshOptions(inputs),
        wanted: parseWanted({
          maxSize: inputs.raw('max-size') || '10M',
          retain: inputs.raw('retain') || '30',
          compress: (inputs.raw('compress') || 'true').toLowerCase(),
        }),
        set: inputs.boolean('logrotate-set', false),
        dryRun,
      },
      deps.log,
    );
    return {
      mode: operation,
      outputs: { operation, result: dryRun ? 'planned' : 'done', report: JSON.stringify(hosts) },
      summary: [
        '## ops logrotate',
        '',
        markdownTable(
          ['Host', 'Installed', 'max_size', 'retain', 'compress', 'Differs', 'Set', 'Rotated beyond retain'],
          hosts.map((x) => [
            x.host,
            x.installed ? 'yes' : '⚠️ no',
            x.found.max_size,
            x.found.retain,
            x.found.compress,
            x.differs.join(', ') || '—',
            x.set ? 'yes' : 'no',
            String(x.beyondRetain.length),
          ]),
        ),
      ].join('\n'),
    };
  }
  if (
    operation === 'maintenance-setup' ||
    operation === 'maintenance-on' ||
    operation === 'maintenance-off'
  ) {
    const options = readMaintenance(inputs, dryRun);
    const report =
      operation === 'maintenance-setup'
        ? await maintenanceSetup(options, deps.log)
        : await maintenanceSwitch(operation === 'maintenance-on', options, deps.log);
    return {
      mode: operation,
      outputs: {
        operation,
        result: dryRun ? 'planned' : report.failure ? 'failed' : 'done',
        report: JSON.stringify(report),
      },
      summary: opsSummary(report),
      ...(report.failure ? { failure: report.failure } : {}),
    };
  }
  const target = readTarget(inputs, context);
  const report =
    operation === 'set-env'
      ? await setEnv(
          parseSettings('settings', inputs.raw('settings'), inputs.boolean('allow-lowercase-name', false)),
          target,
          deps,
        )
      : await pm2Operation(operation as Pm2Operation, target, deps);
  const result = dryRun
    ? 'planned'
    : report.failure
      ? report.hosts.some((h) => h.result === 'reverted')
        ? 'reverted'
        : 'failed'
      : 'done';
  let summary = opsSummary(report);
  const outputs: ModeResult['outputs'] = { operation, result, report: JSON.stringify(report) };
  if (!dryRun && inputs.boolean('incident-report', false)) {
    const incident = opsIncident(report, started, new Date(), target, inputs.string('environment'), context);
    const path = writeIncident(
      resolve(
        (deps.env ?? process.env).GITHUB_WORKSPACE ?? '.',
        inputs.string('incident-dir') ?? 'incidents',
      ),
      incident,
    );
    outputs['incident-report'] = path;
    summary += `\n\n${incidentMarkdown(incident)}`;
  }
  return { mode: operation, outputs, summary, ...(report.failure ? { failure: report.failure } : {}) };
}

function opsSummary(report: OpsReport): string {
  return [
    `## ops ${report.operation}`,
    '',
    report.failure
      ? `**Failed:** ${report.failure.message}\n\n**What to do:** ${report.failure.hint}`
      : report.hosts.every((h) => h.result === 'planned')
        ? '**Dry run:** nothing was changed.'
        : '**Done.**',
    '',
    markdownTable(
      ['Host', 'Result', 'Detail'],
      report.hosts.map((h) => [h.host, h.result, h.detail]),
    ),
    '',
    '<details><summary>Plan</summary>',
    '',
    ...report.plan.map((l) => `- ${l}`),
    '',
    '</details>',
  ].join('\n');
}

function opsIncident(
  report: OpsReport,
  started: Date,
  ended: Date,
  target: SecretTarget,
  environment: string | undefined,
  context: RunContext,
): Incident {
  const ok = !report.failure;
  return {
    name: `ops-${report.operation}`,
    title: `${report.operation} of ${target.pm2.name}`,
    ...(environment ? { environment } : {}),
    detectedAt: started.toISOString(),
    detection: `an operator ran ${report.operation}${context.holder.actor ? ` (${context.holder.actor})` : ''}; what prompted it is for the person to write`,
    steps: report.hosts.map((h) => ({
      name: `${h.host}: ${report.operation}`,
      startedAt: started.toISOString(),
      endedAt: ended.toISOString(),
      outcome: h.result === 'done' ? 'succeeded' : 'failed',
      detail: h.detail,
    })),
    mitigation: `${report.operation} of ${target.pm2.name} on ${report.hosts.map((h) => `${h.host} (${h.result})`).join(', ')}`,
    ...(ok && report.operation !== 'stop' ? { recoveredAt: ended.toISOString() } : {}),
    ...(context.holder.actor ? { actor: context.holder.actor } : {}),
    ...(context.holder.runUrl ? { runUrl: context.holder.runUrl } : {}),
  };
}
