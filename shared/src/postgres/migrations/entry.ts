/**
 * The one entry of action-db-migrate and of the CLI's migrate/maintain: reads the mode's inputs,
 * runs it, returns outputs, a summary and the failure — the caller only writes them.
 */
import type { Inputs } from '../../config/inputs.js';
import { ConfigurationError } from '../../errors.js';
import type { Log } from '../../log.js';
import { markdownTable } from '../../report/markdown.js';
import { maintain } from '../maintenance/maintain.js';
import { TASKS, type Task } from '../maintenance/tasks.js';
import type { ModeResult, RunContext, RunResult } from '../../result.js';
import { readMigrationSource } from './inputs.js';
import { recordRun, type RecordSpec } from '../../audit/record.js';
import { migrate, type MigrateMode, type MigrateReport } from './migrate.js';
import { parseLockLimits, rehearse, type RehearsalOptions, type RehearsalReport } from './rehearse.js';
import type { Timeouts } from './run.js';
import { readAccess, readDatabaseUrl } from '../inputs.js';
import { resolve } from 'node:path';

/** The default gate: a table of any size with rows blocked for reads and writes over 2 s. */
const DEFAULT_MAX_LOCK = 'AccessExclusiveLock 2s';
import { LINT_LEVELS, type LintReport } from './lint.js';

const MODES = ['migrate', 'status', 'rollback', 'rehearse', 'maintenance'] as const;

function readTasks(inputs: Inputs): Task[] {
  const tasks = inputs.list('tasks');
  if (!tasks.length)
    throw new ConfigurationError('tasks', `is required for mode: maintenance; any of ${TASKS.join(', ')}.`);
  for (const t of tasks)
    if (!(TASKS as readonly string[]).includes(t))
      throw new ConfigurationError(
        'tasks',
        `${JSON.stringify(t)} is not a task; expected any of ${TASKS.join(', ')}.`,
      );
  return tasks as Task[];
}

function migrateSummary(report: MigrateReport, database: string, failure?: string): string {
  const parts = [`## Migrations — ${report.mode} of ${database}`];
  if (failure) parts.push(`> [!CAUTION]\n> ${failure}`);
  if (report.gate) parts.push(`- ${report.gate}`);
  const plan = report.plan;
  if (plan) {
    const rows: string[][] = [
      ...plan.applied.map((a) => [
        a.file?.file ?? `${a.row.version}_${a.row.name}.sql`,
        plan.changed.some((c) => c.row === a.row)
          ? '⚠️ changed since applied'
          : a.file
            ? 'applied'
            : '⚠️ missing file',
        a.row.applied_at instanceof Date ? a.row.applied_at.toISOString() : String(a.row.applied_at),
        a.row.applied_by,
        `${a.row.duration_ms} ms`,
      ]),
      ...plan.pending.map((f) => [
        f.file,
        report.applied.some((x) => x.file === f.file)
          ? `✅ applied now${f.noTransaction ? ' (no transaction)' : ''}`
          : plan.outOfOrder.includes(f)
            ? 'pending (out of order)'
            : `pending${f.noTransaction ? ' (no transaction)' : ''}`,
        '',
        '',
        '',
      ]),
    ];
    parts.push(markdownTable(['Migration', 'State', 'Applied at', 'Applied by', 'Took'], rows));
  }
  if (report.rolledBack.length)
    parts.push(
      markdownTable(
        ['Rolled back', 'Took'],
        report.rolledBack.map((r) => [r.file, `${r.durationMs} ms`]),
      ),
    );
  if (report.wouldRun.length)
    parts.push(
      'Dry run — would run, in order:',
      ...report.wouldRun.map((w) => `- ${w.file} (sha256 \`${w.sha256.slice(0, 16)}\`)`),
    );
  if (report.lint) parts.push(lintSummary(report.lint));
  parts.push(`Current version: **${report.currentVersion ?? 'none'}**`);
  return parts.join('\n\n');
}

function rehearsalSummary(r: RehearsalReport): string {
  const head = `### Rehearsal on a copy of production\n\nRestored ${r.backup} into a scratch database in ${r.restoreMs} ms (not counted below).`;
  if (!r.files.length) return `${head}\n\nNothing pending on the copy.`;
  return [
    head,
    markdownTable(
      ['Migration', 'Took', 'Rows touched', 'Strongest lock per table (held, table size)'],
      r.files.map((f) => [
        f.error ? `❌ ${f.file}` : f.file,
        `${f.durationMs} ms`,
        String(f.rowsTouched),
        f.locks.map((l) => `${l.mode} on ${l.table}: ${l.heldMs} ms (~${l.rows} rows)`).join('<br>') || '—',
      ]),
    ),
    ...(r.violations.length
      ? [r.violations.map((v) => `- ⛔ ${v}`).join('\n')]
      : ['Within rehearse-max-lock and rehearse-max-duration.']),
  ].join('\n\n');
}

function readRehearsal(inputs: Inputs, context: RunContext, workspace: string | undefined): RehearsalOptions {
  const backup = inputs.string('rehearse-backup') ?? inputs.string('backup-manifest');
  if (!backup)
    throw new ConfigurationError(
      'rehearse-backup',
      'is needed to rehearse (a backup file, its manifest, or a folder of them — the newest verified one is used); or give backup-manifest, the gating backup of the same run.',
    );
  const scratch = readDatabaseUrl(inputs, 'scratch-database-url', false);
  if (!scratch)
    throw new ConfigurationError(
      'scratch-database-url',
      'is needed to rehearse: a throwaway PostgreSQL server (in a workflow, a postgres:<major> service container) that the backup is restored into.',
    );
  const binDir = inputs.string('pg-bin-dir');
  return {
    ...readMigrationSource(inputs, context, workspace),
    backup: resolve(backup),
    scratch,
    ...(binDir ? { binDir: resolve(binDir) } : {}),
    timeouts: readTimeouts(inputs),
    allowOutOfOrder: inputs.boolean('allow-out-of-order', false),
    lockLimits: parseLockLimits('rehearse-max-lock', inputs.raw('rehearse-max-lock') || DEFAULT_MAX_LOCK),
    maxDurationMs: inputs.duration('rehearse-max-duration', 0, { min: 0 }),
  };
}

function readTimeouts(inputs: Inputs): Timeouts {
  return {
    lockTimeoutMs: inputs.duration('lock-timeout', 5000, { min: 1, max: 3_600_000 }),
    statementTimeoutMs: inputs.duration('statement-timeout', 0, { min: 0 }),
  };
}

function lintSummary(lint: LintReport): string {
  const head = `### Lint (squawk ${lint.squawk}, lint: ${lint.level})`;
  if (!lint.ran) return `${head}\n\nDid not run: ${lint.notRun ?? 'nothing pending'}`;
  const stops = lint.violations.filter((v) => v.stops).length;
  const said = lint.violations.length
    ? `${lint.violations.length} finding(s) in ${lint.files.length} file(s), ${stops} stopping the run.`
    : `${lint.files.length} file(s), no findings.`;
  return [
    head,
    said,
    ...(lint.violations.length
      ? [
          markdownTable(
            ['File', 'Line', 'Rule', 'Squawk says', 'Advice', 'Stops'],
            lint.violations.map((v) => [
              v.file,
              String(v.line),
              v.rule,
              v.message,
              v.help ?? '',
              v.stops ? '⛔ yes' : 'no',
            ]),
          ),
        ]
      : []),
    `Left out: ${lint.excluded.join('; ')}.`,
  ].join('\n\n');
}

/** A migration or its rollback leaves an audit line on the database droplet (`ssh-host`) when reached through one. */
const migrateModeOf = (inputs: Inputs) => inputs.raw('mode') || 'migrate';

/** The files a migration rollback took back, from its `report` output. */
function rolledBackFiles(result: RunResult): string[] {
  try {
    const report = JSON.parse(String(result.outputs.report ?? '{}')) as { rolledBack?: { file?: string }[] };
    return (report.rolledBack ?? []).flatMap((r) => (r.file ? [r.file] : []));
  } catch {
    return [];
  }
}

const MIGRATE_RECORD: RecordSpec = {
  operation: (inputs) =>
    migrateModeOf(inputs) === 'migrate' ? 'migrate' : `migrate ${migrateModeOf(inputs)}`,
  // A migrate with nothing pending changed nothing; a rollback, a baseline or maintenance always act.
  mutates: (inputs, result) => {
    if (inputs.boolean('dry-run', false)) return false;
    const mode = migrateModeOf(inputs);
    if (mode === 'migrate') return result.outputs.applied !== '[]' || result.failure !== undefined;
    return ['rollback', 'baseline', 'maintenance'].includes(mode);
  },
  where: { sshHostInput: 'ssh-host' },
  auditInputs: ['mode', 'migrations-dir', 'steps', 'tasks', 'baseline', 'terminate'],
  facts: (result): { inputs?: Record<string, string> } => {
    const rolledBack = rolledBackFiles(result);
    if (rolledBack.length) return { inputs: { 'rolled-back': JSON.stringify(rolledBack) } };
    return typeof result.outputs.applied === 'string' && result.outputs.applied !== '[]'
      ? { inputs: { applied: result.outputs.applied } }
      : {};
  },
};

type MigrateDeps = { log: Log; signal?: AbortSignal; workspace?: string };

export function runMigrateMode(inputs: Inputs, context: RunContext, deps: MigrateDeps): Promise<ModeResult> {
  return recordRun(inputs, context, MIGRATE_RECORD, deps, (recorded, log) =>
    migrateModeUnrecorded(recorded, context, { ...deps, log }),
  );
}

async function migrateModeUnrecorded(
  inputs: Inputs,
  context: RunContext,
  deps: MigrateDeps,
): Promise<ModeResult> {
  const mode = inputs.choice('mode', MODES, 'migrate');
  const access = readAccess(inputs);
  const dryRun = inputs.boolean('dry-run', false);
  const started = performance.now();
  if (mode === 'maintenance') {
    const report = await maintain(
      {
        access,
        tasks: readTasks(inputs),
        longQueryAfterMs: inputs.duration('long-query-after', 300_000, { min: 0 }),
        terminate: inputs.boolean('terminate', false),
        dryRun,
      },
      deps,
    );
    const summary = [
      `## Database maintenance — ${access.db.database}`,
      ...(report.failure ? [`> [!CAUTION]\n> ${report.failure.message}`] : []),
      ...report.results.map((r) =>
        [`### ${r.task}: ${r.headline}`, ...(r.rows.length ? [markdownTable(r.header, r.rows)] : [])].join(
          '\n\n',
        ),
      ),
    ].join('\n\n');
    return {
      mode,
      outputs: {
        report: JSON.stringify(
          Object.fromEntries(
            report.results.map((r) => [
              r.task,
              { headline: r.headline, durationMs: r.durationMs, ...r.figures },
            ]),
          ),
        ),
        'duration-ms': Math.round(performance.now() - started),
      },
      summary,
      ...(report.failure ? { failure: report.failure } : {}),
    };
  }
  // A rehearsal first (mode: rehearse, or rehearse: true before a migrate): on a copy, never on production.
  const rehearsal =
    mode === 'rehearse' || (mode === 'migrate' && inputs.boolean('rehearse', false) && !dryRun)
      ? await rehearse({ ...readRehearsal(inputs, context, deps.workspace), production: access }, deps)
      : undefined;
  if (rehearsal && (mode === 'rehearse' || rehearsal.failure)) {
    return {
      mode,
      outputs: {
        rehearsal: JSON.stringify(rehearsal),
        applied: '[]',
        'duration-ms': Math.round(performance.now() - started),
      },
      summary: `## Migrations — ${mode} of ${access.db.database}\n\n${rehearsal.failure ? `> [!CAUTION]\n> ${rehearsal.failure.message}\n\n` : ''}${rehearsalSummary(rehearsal)}`,
      ...(rehearsal.failure ? { failure: rehearsal.failure } : {}),
    };
  }
  const baseline = inputs.string('baseline');
  if (baseline !== undefined && !/^\d+$/.test(baseline))
    throw new ConfigurationError('baseline', `${JSON.stringify(baseline)} is not a migration number (NNN).`);
  const report = await migrate(
    {
      ...readMigrationSource(inputs, context, deps.workspace),
      access,
      mode: mode as MigrateMode,
      lockWaitMs: inputs.duration('lock-wait', 120_000, { min: 0, max: 3_600_000 }),
      timeouts: readTimeouts(inputs),
      allowOutOfOrder: inputs.boolean('allow-out-of-order', false),
      ...(baseline !== undefined ? { baseline } : {}),
      steps: inputs.integer('steps', 1, { min: 1, max: 1000 }),
      dryRun,
      lint: inputs.choice('lint', LINT_LEVELS, 'error'),
      lockRetries: inputs.integer('lock-retries', 3, { min: 0, max: 20 }),
    },
    deps,
  );
  const failure = report.failure;
  return {
    mode: 'backup',
    outputs: {
      applied: JSON.stringify(report.applied.map((a) => a.file)),
      pending: JSON.stringify(
        (report.plan?.pending ?? [])
          .filter((f) => !report.applied.some((a) => a.file === f.file))
          .map((f) => f.file),
      ),
      'current-version': report.currentVersion,
      lint: report.lint ? JSON.stringify(report.lint) : '',
      rehearsal: rehearsal ? JSON.stringify(rehearsal) : '',
      report: JSON.stringify({
        mode: report.mode,
        applied: report.applied,
        rolledBack: report.rolledBack,
        wouldRun: report.wouldRun,
        changed:
          report.plan?.changed.map((c) => ({
            file: c.file.file,
            applied: c.row.sha256,
            now: c.file.sha256,
          })) ?? [],
        missing: report.plan?.missing.map((m) => m.version) ?? [],
        outOfOrder: report.plan?.outOfOrder.map((f) => f.file) ?? [],
        gate: report.gate,
      }),
      'duration-ms': Math.round(performance.now() - started),
    },
    summary:
      migrateSummary(report, access.db.database, failure?.message) +
      (rehearsal ? `\n\n${rehearsalSummary(rehearsal)}` : ''),
    ...(failure ? { failure } : {}),
  };
}
