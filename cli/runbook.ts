/**
 * `runbook`: the runbook's procedures from a terminal, for when GitHub itself is down. Same cores,
 * same input names and defaults as the actions.
 *
 *   npm run runbook -- health --url https://api.bunty.example/health --success-threshold 3
 */
import { Inputs } from '../shared/src/config/inputs.js';
import { ConfigurationError, OperationError, errorText } from '../shared/src/errors.js';
import { healthFailure } from '../shared/src/health/failure.js';
import { readHealthOptions } from '../shared/src/health/inputs.js';
import { verifyHealth } from '../shared/src/health/verify.js';
import { Redactor } from '../shared/src/redact/redactor.js';
import { readFileSync } from 'node:fs';
import { homedir, hostname, userInfo } from 'node:os';
import { deploy, type HostReport } from '../shared/src/releases/deploy.js';
import { readDeployOptions, readRollbackOptions, type RunContext } from '../shared/src/releases/inputs.js';
import { rollback } from '../shared/src/releases/rollback.js';
import { cancelOnSignals } from '../shared/src/cancel.js';
import { runBackupMode } from '../shared/src/postgres/modes.js';
import { runMigrateMode } from '../shared/src/postgres/migrations/entry.js';
import { runSecretMode } from '../shared/src/secrets/modes.js';
import { runDiagnose } from '../shared/src/diagnose/entry.js';
import { runOps } from '../shared/src/ops/entry.js';
import { runWorkflowIncident } from '../shared/src/incident/from-workflow.js';
import { consoleLog } from './console-log.js';
import { actionDefaults, parseFlags } from './flags.js';

const USAGE = `usage: runbook <command> [--input value ...]

commands:
  health    verify a deployment (the inputs of action-health, e.g. --url, --expected-version)
  deploy    deploy a release over SSH (the inputs of action-deploy)
  rollback  back to the previous good release (the inputs of action-rollback)
  backup    back up PostgreSQL, verified (the inputs of action-db-backup; --path defaults to ./db-backups)
  verify    check a backup: --backup FILE --level checksum|list|read|restore
            (--from-host true --ssh-host … : FILE is a path on the droplet, fetched first)
  restore   the Data Recovery: --backup FILE --confirm <database name> (safety backup first)
  migrate   apply migrations (the inputs of action-db-migrate; --mode status|rollback too)
  maintain  database upkeep and checks: --tasks analyze,connections,long-queries,…
  diagnose  the runbook's P0/P1/P2 checks, read-only, judged into a severity (the inputs of
            action-diagnose: --hosts, --health-url, --database-url, --redis-url, --external-urls …)
  ops <operation>  an emergency operation (the inputs of action-ops): restart, reload, start, stop,
            set-env --settings PLAID_ENABLED=false, flush-cache, logs --pattern '…' --since 1h
  rotate-secret  rotate a secret on every host and in GitHub (the inputs of action-rotate-secret;
            --mode retire-previous|audit too; --github-token @file --github-repository owner/repo)
  incident-report  the post-mortem template filled in (the inputs of action-incident-report:
            --title, --outcome, --started-at, --findings @diagnose-findings.json, --health-url)
            into ./incidents/YYYY-MM-DD-<name>.md

Every --flag is the action input of the same name, with the same default. A value written as
@path is read from that file (use it for secrets: --ssh-key @~/.ssh/deploy_key keeps the key out
of the process list and the shell history).`;

/** Flags as the action's inputs; `@path` values are read from the file, `~/` is the home directory. */
function cliInputs(
  action: string,
  argv: string[],
  redactor: Redactor,
  overrides: Record<string, string> = {},
): Inputs {
  const flags = parseFlags(argv, { ...actionDefaults(action), ...overrides });
  return new Inputs({
    raw: (name) => {
      const value = flags[name] ?? '';
      if (!value.startsWith('@')) return value;
      const path = value.slice(1).replace(/^~(?=\/)/, homedir());
      try {
        return readFileSync(path, 'utf8');
      } catch {
        throw new ConfigurationError(name, `cannot read the file ${JSON.stringify(path)}.`);
      }
    },
    mask: (secret) => void redactor.add(secret),
  });
}

/** The lease holder is the person at the terminal; the sha must be given with --sha. */
function cliContext(): RunContext {
  return { holder: { description: `runbook CLI on ${hostname()}`, actor: userInfo().username } };
}

function printHosts(log: ReturnType<typeof consoleLog>, hosts: HostReport[]): void {
  for (const h of hosts) {
    log.info(
      `${h.host}: ${h.outcome}${h.release ? ` ${h.release}` : ''}${h.previousRelease ? ` (was ${h.previousRelease})` : ''}${h.error ? ` — ${h.error}` : ''}`,
    );
  }
}

async function deployCommand(argv: string[], redactor: Redactor): Promise<void> {
  const log = consoleLog(redactor);
  const report = await deploy(readDeployOptions(cliInputs('action-deploy', argv, redactor), cliContext()), {
    log,
    signal: cancelOnSignals(),
  });
  printHosts(log, report.hosts);
  if (report.failure) throw report.failure;
}

async function rollbackCommand(argv: string[], redactor: Redactor): Promise<void> {
  const log = consoleLog(redactor);
  const report = await rollback(
    readRollbackOptions(cliInputs('action-rollback', argv, redactor), cliContext()),
    { log, signal: cancelOnSignals() },
  );
  printHosts(log, report.hosts);
  if (report.failure) throw report.failure;
}

/** backup, verify and restore: action-db-backup's one core, in the mode named by the command. */
async function databaseCommand(
  mode: 'backup' | 'verify' | 'restore',
  argv: string[],
  redactor: Redactor,
): Promise<void> {
  const log = consoleLog(redactor);
  if (argv.some((arg) => /^--mode(=|$)/.test(arg)))
    throw new ConfigurationError('mode', `is given by the command (runbook ${mode}); leave --mode out.`);
  // Backups from a terminal belong beside the engineer, not in a temp directory that may be cleaned.
  const inputs = cliInputs('action-db-backup', argv, redactor, { mode, path: 'db-backups' });
  const result = await runBackupMode(inputs, { log, signal: cancelOnSignals() });
  for (const [name, value] of Object.entries(result.outputs)) {
    if (value !== undefined && value !== '' && name !== 'tables') log.info(`${name}: ${value}`);
  }
  if (result.failure) throw result.failure;
}

/** migrate (and its status/rollback modes) and maintain: action-db-migrate's one core. */
async function migrateCommand(
  command: 'migrate' | 'maintain',
  argv: string[],
  redactor: Redactor,
): Promise<void> {
  const log = consoleLog(redactor);
  if (command === 'maintain' && argv.some((arg) => /^--mode(=|$)/.test(arg)))
    throw new ConfigurationError('mode', 'is given by the command (runbook maintain); leave --mode out.');
  const inputs = cliInputs(
    'action-db-migrate',
    argv,
    redactor,
    command === 'maintain' ? { mode: 'maintenance' } : {},
  );
  const { holder } = cliContext();
  const appliedBy = `${holder.description}${holder.actor ? ` by ${holder.actor}` : ''}`;
  const result = await runMigrateMode(inputs, { log, signal: cancelOnSignals() }, appliedBy);
  for (const [name, value] of Object.entries(result.outputs)) {
    if (value !== undefined && value !== '' && name !== 'report') log.info(`${name}: ${value}`);
  }
  if (result.failure) throw result.failure;
}

/** rotate-secret (and its retire-previous / audit modes): action-rotate-secret's one core. */
async function rotateSecretCommand(argv: string[], redactor: Redactor): Promise<void> {
  const log = consoleLog(redactor);
  const inputs = cliInputs('action-rotate-secret', argv, redactor);
  const result = await runSecretMode(inputs, cliContext(), { log, signal: cancelOnSignals() });
  // The job summary's tables read well in a terminal too (fingerprints only, never a value).
  log.info(result.summary);
  if (result.failure) throw result.failure;
}

/** diagnose: action-diagnose's one core; the bundle goes to ./diagnose-bundle unless --bundle-dir says. */
async function diagnoseCommand(argv: string[], redactor: Redactor): Promise<void> {
  const log = consoleLog(redactor);
  const inputs = cliInputs('action-diagnose', argv, redactor, { 'bundle-dir': 'diagnose-bundle' });
  const result = await runDiagnose(inputs, { log });
  log.info(result.summary);
  if (result.failure) throw result.failure;
}

/** ops <operation>: action-ops's one core; `runbook ops stop --confirm bunty-backend …`. */
async function opsCommand(argv: string[], redactor: Redactor): Promise<void> {
  const log = consoleLog(redactor);
  const [operation, ...rest] = argv;
  if (!operation || operation.startsWith('--'))
    throw new ConfigurationError(
      'operation',
      'is required: runbook ops <restart|reload|start|stop|set-env|flush-cache|logs> …',
    );
  // Logs from a terminal belong beside the engineer.
  const inputs = cliInputs('action-ops', rest, redactor, { operation, 'output-dir': 'logs' });
  const result = await runOps(inputs, cliContext(), { log, signal: cancelOnSignals() });
  log.info(result.summary);
  if (result.failure) throw result.failure;
}

/** incident-report: action-incident-report's core; the report goes to ./incidents unless --incident-dir says. */
async function incidentReportCommand(argv: string[], redactor: Redactor): Promise<void> {
  const log = consoleLog(redactor);
  const inputs = cliInputs('action-incident-report', argv, redactor);
  const result = await runWorkflowIncident(inputs, cliContext(), { log });
  log.info(result.summary);
}

async function health(argv: string[], redactor: Redactor): Promise<void> {
  const log = consoleLog(redactor);
  const options = readHealthOptions(cliInputs('action-health', argv, redactor));
  const report = await verifyHealth(options, { log });
  if (!report.healthy) throw healthFailure(report);
  log.info(
    `healthy after ${report.attempts} attempt(s), ${report.latencyMs} ms, release ${report.version ?? 'not reported'}`,
  );
}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  const redactor = new Redactor();
  try {
    if (command === 'health') await health(rest, redactor);
    else if (command === 'deploy') await deployCommand(rest, redactor);
    else if (command === 'rollback') await rollbackCommand(rest, redactor);
    else if (command === 'backup' || command === 'verify' || command === 'restore')
      await databaseCommand(command, rest, redactor);
    else if (command === 'migrate' || command === 'maintain') await migrateCommand(command, rest, redactor);
    else if (command === 'rotate-secret') await rotateSecretCommand(rest, redactor);
    else if (command === 'diagnose') await diagnoseCommand(rest, redactor);
    else if (command === 'ops') await opsCommand(rest, redactor);
    else if (command === 'incident-report') await incidentReportCommand(rest, redactor);
    else {
      console.error(USAGE);
      return command === undefined || command === '--help' ? 0 : 1;
    }
    return 0;
  } catch (error) {
    const text =
      error instanceof ConfigurationError
        ? `${error.message} Nothing was changed.`
        : error instanceof OperationError
          ? `${error.message}\nWhat to do: ${error.hint}`
          : `Unexpected error: ${errorText(error)}`;
    console.error(`error: ${redactor.redact(text)}`);
    return 1;
  }
}

process.exitCode = await main();
