/** The inputs of action-rotate-secret, read one way for the action and the CLI. */
import type { Inputs } from '../config/inputs.js';
import { hasControlCharacters } from '../config/parse.js';
import { checkAppVariable, checkKeyName } from '../envfile/envfile.js';
import { readGithubApiUrl, readGithubRepository } from '../github/inputs.js';
import { ConfigurationError } from '../errors.js';
import { readReleaseTarget } from '../releases/inputs.js';
import type { RunContext } from '../result.js';
import { parseHealthUrlTemplates } from '../releases/host-url.js';
import { parseAppDir } from '../releases/layout.js';
import { readHosts, readSshOptions } from '../ssh/inputs.js';
import type { AuditOptions } from './audit.js';
import { checkGithubSecretName, type GithubScope, type GithubSecretTarget } from './github-secret.js';
import type { RotateOptions } from './rotate.js';
import { readBatchPlan } from '../fleet/inputs.js';
import type { SecretTarget } from './secret-hosts.js';
import { readEnvFile } from '../envfile/inputs.js';
import { parseGenerate } from './value.js';

export type SecretMode = 'rotate' | 'retire-previous' | 'audit';

/** GitHub refuses values over 48 KB. */
const MAX_VALUE_BYTES = 48 * 1024;

/** Every mode masks the secret inputs first, whether it uses them or not: they must never print. */
export function readSecretMode(inputs: Inputs): SecretMode {
  inputs.secret('value');
  inputs.secret('github-token');
  return inputs.choice('mode', ['rotate', 'retire-previous', 'audit'] as const, 'rotate');
}

function readName(inputs: Inputs): string {
  const name = inputs.string('name', { required: true });
  checkAppVariable('name', name, inputs.boolean('allow-lowercase-name', false));
  return name;
}

export function readSecretTarget(inputs: Inputs, context: RunContext): SecretTarget {
  const name = readName(inputs);
  const previousName = inputs.string('previous-name') ?? `${name}_PREVIOUS`;
  checkAppVariable('previous-name', previousName, inputs.boolean('allow-lowercase-name', false));
  if (previousName === name)
    throw new ConfigurationError('previous-name', `must differ from name (${name}).`);
  const target = readReleaseTarget(inputs, context);
  return {
    ...target,
    ...readBatchPlan(inputs),
    name,
    previousName,
    ...readEnvFile(inputs, target.appDir),
    keepBackups: inputs.integer('keep-backups', 5, { min: 1, max: 100 }),
    ...(inputs.string('verify-command') ? { verifyCommand: inputs.string('verify-command') as string } : {}),
    verifyUrls: inputs.list('verify-url').length
      ? parseHealthUrlTemplates('verify-url', inputs.list('verify-url'), target.hosts.length)
      : [],
    dryRun: inputs.boolean('dry-run', false),
  };
}

export function readRotateOptions(
  inputs: Inputs,
  context: RunContext,
  env: NodeJS.ProcessEnv,
): RotateOptions {
  // Secrets first: masked before any other input can fail and print something.
  const value = inputs.secret('value');
  const token = inputs.secret('github-token');
  const target = readSecretTarget(inputs, context);
  if (value !== undefined) {
    if (Buffer.byteLength(value) > MAX_VALUE_BYTES)
      throw new ConfigurationError('value', `is longer than GitHub's limit for a secret (48 KB).`);
    if (value.includes('\0'))
      throw new ConfigurationError('value', 'contains a NUL byte, which no env file can hold.');
  }
  return {
    ...target,
    ...(value !== undefined ? { value } : {}),
    generate: parseGenerate('generate', inputs.raw('generate') || 'base64:64'),
    grace: inputs.choice('grace', ['previous-variable', 'none'] as const, 'previous-variable'),
    ...(token ? { github: readGithubTarget(inputs, token, target.name, env) } : {}),
  };
}

function readGithubTarget(
  inputs: Inputs,
  token: string,
  name: string,
  env: NodeJS.ProcessEnv,
): GithubSecretTarget {
  const secretName = inputs.string('github-secret-name') ?? name;
  const wrong = checkGithubSecretName(secretName);
  if (wrong)
    throw new ConfigurationError(
      'github-secret-name',
      `${JSON.stringify(secretName)} is not a GitHub secret name: ${wrong}.`,
    );
  const kind = inputs.choice(
    'github-scope',
    ['repository', 'environment', 'organization'] as const,
    'repository',
  );
  let scope: GithubScope;
  if (kind === 'organization') {
    const org = inputs.string('github-org') ?? env.GITHUB_REPOSITORY_OWNER ?? '';
    if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(org))
      throw new ConfigurationError(
        'github-org',
        `${JSON.stringify(org)} is not an organization login (required for github-scope: organization).`,
      );
    scope = {
      kind,
      org,
      visibility: inputs.choice('org-visibility', ['all', 'private', 'selected'] as const, 'private'),
    };
  } else {
    const { owner, repo } = readGithubRepository(inputs, env);
    if (kind === 'environment') {
      const environment = inputs.string('github-environment', { required: true });
      if (environment.length > 255 || hasControlCharacters(environment))
        throw new ConfigurationError(
          'github-environment',
          `${JSON.stringify(environment)} is not an environment name.`,
        );
      scope = { kind, owner, repo, environment };
    } else scope = { kind, owner, repo };
  }
  const apiUrl = readGithubApiUrl(inputs, env);
  return {
    scope,
    secretName,
    token,
    apiUrl,
    maxWaitMs: inputs.duration('github-max-wait', 120_000, { min: 0, max: 3_600_000 }),
    requestTimeoutMs: inputs.duration('github-timeout', 30_000, { min: 1000, max: 600_000 }),
  };
}

export function readAuditOptions(inputs: Inputs): AuditOptions {
  const ssh = readSshOptions(inputs);
  const hosts = readHosts(inputs);
  const appDir = parseAppDir('app-dir', inputs.string('app-dir', { required: true }));
  const names = inputs.list('name');
  for (const name of names) checkKeyName('name', name);
  const maxAgeMs = inputs.optionalDuration('max-age', { min: 60_000 });
  return {
    hosts,
    ssh,
    envFile: readEnvFile(inputs, appDir).envFile,
    names,
    warnAgeMs: inputs.duration('warn-age', 90 * 86_400_000, { min: 60_000 }),
    ...(maxAgeMs !== undefined ? { maxAgeMs } : {}),
  };
}
