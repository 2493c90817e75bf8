/** The inputs of action-deploy and action-rollback, read one way for both (and for the CLI). */
import type { Inputs } from '../config/inputs.js';
import { readBatchPlan } from '../fleet/inputs.js';
import { readHealthCriteria } from '../health/inputs.js';
import { readSmokeRequests } from '../health/smoke.js';
import { readHosts, readSshOptions } from '../ssh/inputs.js';
import { describeTarget, parseSshTarget } from '../ssh/target.js';
import type { JoinOptions } from './join.js';
import { checkArtifact } from './artifact.js';
import type { DeployOptions, ReleaseTarget } from './deploy.js';
import { parseHealthUrlTemplates } from './host-url.js';
import { parseAppDir, parseAppName, parseReleaseId, parseSha } from './layout.js';
import type { RunContext } from '../result.js';
import type { RollbackOptions } from './rollback.js';
import { ConfigurationError } from '../errors.js';
import { parseRelativePath } from '../config/parse.js';
import { readTraffic } from './traffic.js';
import { MIGRATION_FILE } from '../postgres/migrations/names.js';
import { readMigrationSource } from '../postgres/migrations/inputs.js';
import { readAccess } from '../postgres/inputs.js';

function parseEnvName(input: string, raw: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(raw))
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} is not an environment variable name (letters, digits, _).`,
    );
  return raw;
}

function readRelativePaths(inputs: Inputs, name: string): string[] {
  return inputs.list(name).map((path) => parseRelativePath(name, path));
}

/** `joining`: a host outside `hosts` is part of the run too (its health URL comes last). */
export function readReleaseTarget(inputs: Inputs, context: RunContext, joining = 0): ReleaseTarget {
  const ssh = readSshOptions(inputs);
  const health = {
    ...readHealthCriteria(inputs),
    startTimeoutMs: inputs.duration('start-timeout', 30_000, { min: 1000, max: 3_600_000 }),
  };
  const hosts = readHosts(inputs);
  const scriptRaw = inputs.string('app-script');
  const script = scriptRaw === undefined ? undefined : parseRelativePath('app-script', scriptRaw);
  if (script !== undefined && /\s/.test(script)) {
    // pm2 runs any script path holding a space through `bash -c` (pm2 lib/Common.js): the path would become code.
    throw new ConfigurationError(
      'app-script',
      `${JSON.stringify(script)} contains white space; pm2 would run it as a shell command, so it is refused.`,
    );
  }
  const name = parseAppName('app-name', inputs.string('app-name', { required: true }));
  const traffic = readTraffic(inputs, name);
  return {
    hosts,
    ssh,
    appDir: parseAppDir('app-dir', inputs.string('app-dir', { required: true })),
    ...(traffic ? { traffic } : {}),
    pm2: {
      name,
      ...(script !== undefined ? { script } : {}),
      execMode: inputs.choice('pm2-exec-mode', ['fork', 'cluster'] as const, 'fork'),
      instances: ['', 'max'].includes(inputs.raw('pm2-instances'))
        ? 'max'
        : String(inputs.integer('pm2-instances', 2, { min: 1, max: 64 })),
      waitReady: inputs.boolean('pm2-wait-ready', false),
      listenTimeoutMs: inputs.duration('pm2-listen-timeout', 8000, { min: 100, max: 300_000 }),
      killTimeoutMs: inputs.duration('pm2-kill-timeout', 5000, { min: 100, max: 300_000 }),
    },
    healthUrls: parseHealthUrlTemplates('health-url', inputs.list('health-url'), hosts.length + joining),
    health,
    versionCheck: inputs.choice('version-check', ['auto', 'require', 'off'] as const, 'auto'),
    smokeRequests: readSmokeRequests(inputs),
    stabilizationMs: inputs.duration('stabilization-window', 5000, { min: 0, max: 600_000 }),
    lock: {
      graceMs: inputs.duration('lock-ttl', 30_000, { min: 1000, max: 3_600_000 }),
      waitMs: inputs.duration('lock-wait', 0, { min: 0, max: 3_600_000 }),
    },
    restoreDeadlineMs: inputs.duration('restore-deadline', 120_000, { min: 1000, max: 3_600_000 }),
    holder: context.holder,
  };
}

export function readDeployOptions(inputs: Inputs, context: RunContext): DeployOptions {
  const target = readReleaseTarget(inputs, context);
  const artifact = inputs.string('artifact', { required: true });
  checkArtifact('artifact', artifact);
  const shaRaw = inputs.string('sha') ?? context.sha;
  if (!shaRaw)
    throw new ConfigurationError(
      'sha',
      'is required outside GitHub Actions (the commit being deployed; in a workflow it defaults to github.sha).',
    );
  const layout = inputs.choice('layout', ['releases', 'legacy'] as const, 'releases');
  if (layout === 'legacy' && target.traffic)
    throw new ConfigurationError(
      'traffic',
      'nginx works with layout: releases only (each slot runs a release directory of its own).',
    );
  if (layout === 'legacy' && inputs.boolean('preflight', false))
    throw new ConfigurationError(
      'preflight',
      'works with layout: releases only (the legacy layout has no release directory to start beside the app).',
    );
  return {
    ...target,
    artifact,
    sha: parseSha('sha', shaRaw),
    installCommand: inputs.string('install-command'),
    installTimeoutMs: inputs.duration('install-timeout', 600_000, { min: 1000, max: 6 * 3_600_000 }),
    preSwitchCommand: inputs.string('pre-switch-command'),
    linkedFiles: readRelativePaths(inputs, 'linked-files'),
    linkedDirs: readRelativePaths(inputs, 'linked-dirs'),
    keepReleases: inputs.integer('keep-releases', 5, { min: 2, max: 100 }),
    migrateLegacy: inputs.boolean('migrate-legacy', false),
    ...(inputs.boolean('preflight', false)
      ? {
          preflight: {
            portEnv: parseEnvName('preflight-port-env', inputs.raw('preflight-port-env') || 'PORT'),
          },
        }
      : {}),
    layout,
    migrations: readAppliedMigrations(inputs),
    ...readBatchPlan(inputs),
    dryRun: inputs.boolean('dry-run', false),
  };
}

/** `migrations`: action-db-migrate's `applied` output (a JSON list), or names one per line / comma separated. */
function readAppliedMigrations(inputs: Inputs): string[] {
  const raw = inputs.raw('migrations').trim();
  let names: unknown;
  if (raw.startsWith('[')) {
    try {
      names = JSON.parse(raw);
    } catch {
      throw new ConfigurationError('migrations', `is not a JSON list: ${raw.slice(0, 80)}`);
    }
  } else names = inputs.list('migrations');
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string' || !MIGRATION_FILE.test(n)))
    throw new ConfigurationError(
      'migrations',
      `must list migration files (NNN_name.sql), e.g. action-db-migrate's applied output; got ${raw.slice(0, 80)}.`,
    );
  return names as string[];
}

/** action-deploy with `join`: the new host and the fleet it joins; the release is the fleet's own. */
export function readJoinOptions(inputs: Inputs, context: RunContext): JoinOptions {
  const join = parseSshTarget('join', inputs.string('join', { required: true }));
  const target = readReleaseTarget(inputs, context, 1);
  const twin = target.hosts.find((h) => h.host === join.host && h.port === join.port);
  if (twin)
    throw new ConfigurationError(
      'join',
      `${describeTarget(join)} is in hosts already: join names the new host, hosts the fleet it joins.`,
    );
  return {
    ...target,
    join,
    copyTimeoutMs: inputs.duration('copy-timeout', 600_000, { min: 1000, max: 6 * 3_600_000 }),
    dryRun: inputs.boolean('dry-run', false),
  };
}

export function readRollbackOptions(
  inputs: Inputs,
  context: RunContext,
  workspace?: string,
): RollbackOptions {
  const target = readReleaseTarget(inputs, context);
  const release = inputs.string('release');
  const access = inputs.string('database-url')
    ? readAccess(inputs, 'database-url', 'database-ssh-host')
    : undefined;
  return {
    ...target,
    schema: {
      rollbackMigrations: inputs.boolean('rollback-migrations', false),
      ...(access ? { access } : {}),
      source: readMigrationSource(inputs, context, workspace),
    },
    ...(release ? { release: parseReleaseId('release', release) } : {}),
    layout: inputs.choice('layout', ['releases', 'legacy'] as const, 'releases'),
    ...readBatchPlan(inputs),
    dryRun: inputs.boolean('dry-run', false),
  };
}
