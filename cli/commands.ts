/**
 * The CLI's commands: each one an action, run through the same entry core the action's main.ts runs
 * (same input names, same defaults from its action.yml, same outputs and summary). `fixed` inputs
 * are set by the command itself; `terminal` defaults suit a terminal better than a runner's.
 */
import type { Inputs } from '../shared/src/config/inputs.js';
import type { Log } from '../shared/src/log.js';
import type { RunResult } from '../shared/src/result.js';
import type { RunContext } from '../shared/src/result.js';
import { runHealth } from '../shared/src/health/run.js';
import { runDeploy, runJoin } from '../shared/src/releases/run.js';
import { runRollback } from '../shared/src/releases/run-rollback.js';
import { runBackupMode } from '../shared/src/postgres/modes.js';
import { runMigrateMode } from '../shared/src/postgres/migrations/entry.js';
import { runSecretMode } from '../shared/src/secrets/modes.js';
import { runDiagnose } from '../shared/src/diagnose/entry.js';
import { OPERATIONS, runOps } from '../shared/src/ops/entry.js';
import { runWorkflowIncident } from '../shared/src/incident/from-workflow.js';
import { ACTION_SPECS } from './action-specs.js';

const DIAGNOSE_INPUTS: Record<string, unknown> = ACTION_SPECS['action-diagnose'].inputs;
const AUDIT_READS = new Set([
  'hosts',
  'app-dir',
  'audit-file',
  'since',
  'ssh-key',
  'ssh-key-passphrase',
  'known-hosts',
  'host-fingerprint',
  'insecure-skip-host-key-check',
  'proxy-host',
  'connect-timeout',
  'connect-attempts',
  'command-timeout',
]);

export interface RunDeps {
  log: Log;
  signal: AbortSignal;
}

export interface CommandSpec {
  name: string;
  action: keyof typeof ACTION_SPECS;
  summary: string;
  /** Inputs the command gives (its mode): not flags. */
  fixed?: Record<string, string>;
  /** Defaults for a terminal, where the action's (a runner's temp dir) would not suit. */
  terminal?: Record<string, string>;
  /** Inputs of the action this command never reads: not offered as flags. */
  hide?: string[];
  /** `ops <operation>`: the first argument is this input (one of `choices` when given). */
  argument?: { input: string; choices?: readonly string[] };
  run(inputs: Inputs, context: RunContext, deps: RunDeps): Promise<RunResult>;
}

export const COMMANDS: CommandSpec[] = [
  {
    name: 'health',
    action: 'action-health',
    summary: 'verify a deployment: alive, healthy, serving the expected release',
    run: (inputs, _context, deps) => runHealth(inputs, deps),
  },
  {
    name: 'deploy',
    action: 'action-deploy',
    summary: 'deploy a release over SSH: switch atomically, prove it healthy, or roll back',
    terminal: { 'incident-dir': 'incidents' },
    run: (inputs, context, deps) => runDeploy(inputs, context, deps),
  },
  {
    name: 'join',
    action: 'action-deploy',
    summary: "add a host: the fleet's live release and shared files copied to it, started, proven healthy",
    argument: { input: 'join' },
    // The release is the fleet's own: nothing of a deploy's artifact or its preparation is read.
    hide: [
      'artifact',
      'sha',
      'install-command',
      'install-timeout',
      'pre-switch-command',
      'linked-files',
      'linked-dirs',
      'keep-releases',
      'layout',
      'migrate-legacy',
      'preflight',
      'preflight-port-env',
      'max-parallel',
      'canary',
      'incident-report',
      'incident-dir',
      'environment',
    ],
    run: (inputs, context, deps) => runJoin(inputs, context, deps),
  },
  {
    name: 'rollback',
    action: 'action-rollback',
    summary: 'back to the previous good release (or a named one), verified healthy',
    run: (inputs, context, deps) => runRollback(inputs, context, deps),
  },
  {
    name: 'backup',
    action: 'action-db-backup',
    summary: 'back up PostgreSQL, verified, into ./db-backups unless --path says',
    fixed: { mode: 'backup' },
    terminal: { path: 'db-backups' },
    run: (inputs, context, deps) => runBackupMode(inputs, context, deps),
  },
  {
    name: 'verify',
    action: 'action-db-backup',
    summary: 'check a backup: --backup FILE --level checksum|list|read|restore',
    fixed: { mode: 'verify' },
    terminal: { path: 'db-backups' },
    run: (inputs, context, deps) => runBackupMode(inputs, context, deps),
  },
  {
    name: 'restore',
    action: 'action-db-backup',
    summary: 'the Data Recovery: --backup FILE --confirm <database>, a safety backup first',
    fixed: { mode: 'restore' },
    terminal: { path: 'db-backups' },
    run: (inputs, context, deps) => runBackupMode(inputs, context, deps),
  },
  {
    name: 'migrate',
    action: 'action-db-migrate',
    summary: 'apply migrations (--mode status|rollback too), gated on a verified backup',
    run: (inputs, context, deps) => runMigrateMode(inputs, context, deps),
  },
  {
    name: 'maintain',
    action: 'action-db-migrate',
    summary: 'database upkeep and checks: --tasks analyze,connections,long-queries,…',
    fixed: { mode: 'maintenance' },
    run: (inputs, context, deps) => runMigrateMode(inputs, context, deps),
  },
  {
    name: 'diagnose',
    action: 'action-diagnose',
    summary: "the runbook's P0/P1/P2 checks, read-only, judged into a severity",
    terminal: { 'bundle-dir': 'diagnose-bundle' },
    run: (inputs, _context, deps) => runDiagnose(inputs, deps),
  },
  {
    name: 'status',
    action: 'action-diagnose',
    summary: 'what is live on each host: release, sha, who deployed it, pm2, health, lease, secrets',
    fixed: { mode: 'status' },
    hide: [
      'log-lines',
      'log-window',
      'smoke-requests',
      'disk-warn-percent',
      'slow-threshold',
      'database-url',
      'ssh-host',
      'crash-window',
      'long-query-after',
      'redis-url',
      'redis-cli-port',
      'redis-password',
      'external-urls',
      'redact',
      'bundle-dir',
      'fail-on',
    ],
    run: (inputs, _context, deps) => runDiagnose(inputs, deps),
  },
  {
    name: 'audit',
    action: 'action-diagnose',
    summary: "every host's audit trail, newest first: who changed what, when, how it ended (--since 24h)",
    fixed: { mode: 'audit' },
    // Only the hosts, how to reach them and where the file is are read.
    hide: Object.keys(DIAGNOSE_INPUTS).filter((name) => !AUDIT_READS.has(name)),
    run: (inputs, _context, deps) => runDiagnose(inputs, deps),
  },
  {
    name: 'ops',
    action: 'action-ops',
    summary: 'an emergency operation, planned, confirmed where destructive, verified',
    argument: { input: 'operation', choices: OPERATIONS },
    terminal: { 'output-dir': 'logs' },
    run: (inputs, context, deps) => runOps(inputs, context, deps),
  },
  {
    name: 'rotate-secret',
    action: 'action-rotate-secret',
    summary: 'rotate a secret on every host and in GitHub (--mode retire-previous|audit too)',
    run: (inputs, context, deps) => runSecretMode(inputs, context, deps),
  },
  {
    name: 'incident-report',
    action: 'action-incident-report',
    summary: 'the post-mortem template filled in, into ./incidents/YYYY-MM-DD-<name>.md',
    run: (inputs, context, deps) => runWorkflowIncident(inputs, context, deps),
  },
];
