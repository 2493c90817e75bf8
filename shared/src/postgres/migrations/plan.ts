/**
 * What the folder and the tracking table say together: applied, pending, changed (an applied file
 * edited since — refused), missing (applied here, no file), and pending ones numbered below an
 * applied one (out of order — refused unless allowed). Pure, so status, dry-run and migrate agree.
 */
import type { MigrationFile } from './files.js';
import { compareVersions, versionNumber } from './files.js';
import type { AppliedRow } from './tracking.js';

export interface MigrationPlan {
  applied: { file?: MigrationFile; row: AppliedRow }[];
  pending: MigrationFile[];
  changed: { file: MigrationFile; row: AppliedRow }[];
  missing: AppliedRow[];
  outOfOrder: MigrationFile[];
  currentVersion?: string;
}

const key = (version: string) => versionNumber(version).toString();

export function planMigrations(files: MigrationFile[], rows: AppliedRow[]): MigrationPlan {
  const byVersion = new Map(files.map((f) => [key(f.version), f]));
  const appliedKeys = new Set(rows.map((r) => key(r.version)));
  const plan: MigrationPlan = { applied: [], pending: [], changed: [], missing: [], outOfOrder: [] };
  for (const row of rows) {
    const file = byVersion.get(key(row.version));
    plan.applied.push({ ...(file ? { file } : {}), row });
    if (!file) plan.missing.push(row);
    else if (file.sha256 !== row.sha256) plan.changed.push({ file, row });
  }
  const highest = rows
    .map((r) => r.version)
    .sort(compareVersions)
    .at(-1);
  for (const file of files) {
    if (appliedKeys.has(key(file.version))) continue;
    plan.pending.push(file);
    if (highest !== undefined && compareVersions(file.version, highest) < 0) plan.outOfOrder.push(file);
  }
  if (highest !== undefined) plan.currentVersion = byVersion.get(key(highest))?.version ?? highest;
  return plan;
}
