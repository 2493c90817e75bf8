/**
 * The migration inputs action-db-migrate shares with action-rollback (a code rollback past a
 * migration rolls it back first): where the files are, the tracking table, the backup gate, who runs.
 */
import { resolve } from 'node:path';
import type { Inputs } from '../../config/inputs.js';
import type { RunContext } from '../../result.js';
import { DEFAULT_MAX_FILE_BYTES } from './names.js';
import type { MigrateOptions } from './migrate.js';
import { parseTableRef } from './tracking.js';

export type MigrationSource = Pick<
  MigrateOptions,
  'dir' | 'table' | 'gate' | 'maxFileBytes' | 'appliedBy' | 'confinement'
>;

export function readMigrationSource(
  inputs: Inputs,
  context: RunContext,
  workspace?: string,
): MigrationSource {
  return {
    dir: resolve(inputs.string('migrations-dir') ?? 'backend/db/migrations'),
    table: parseTableRef('tracking-table', inputs.string('tracking-table') ?? 'runbook_migrations'),
    gate: {
      required: inputs.boolean('require-backup', true),
      ...(inputs.string('backup-manifest')
        ? { manifest: resolve(inputs.string('backup-manifest') as string) }
        : {}),
      maxAgeMs: inputs.duration('backup-max-age', 3_600_000, { min: 1000 }),
    },
    maxFileBytes: inputs.size('max-file-size', DEFAULT_MAX_FILE_BYTES, { min: 1024 }),
    // Who applied a migration, as its tracking row keeps it: the run (or the CLI's host) and its actor.
    appliedBy: `${context.holder.description}${context.holder.actor ? ` by ${context.holder.actor}` : ''}`,
    // On a runner the files come from the checkout; a link out of it is refused (the CLI's user
    // names the folder on their own machine, so it has no workspace to keep to).
    ...(workspace && !inputs.boolean('allow-migrations-dir-outside-workspace', false)
      ? { confinement: { root: workspace, allowedBy: 'allow-migrations-dir-outside-workspace' } }
      : {}),
  };
}
