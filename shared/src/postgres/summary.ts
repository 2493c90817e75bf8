/** Job summaries of the three modes: what was written, verified or restored, as tables. */
import { markdownTable } from '../report/markdown.js';
import type { BackupReport } from './backup.js';
import type { Manifest } from './manifest.js';
import type { RestoreReport } from './restore.js';
import type { VerifyOutcome } from './verify.js';

function size(bytes: number): string {
  return bytes >= 1_048_576 ? `${(bytes / 1_048_576).toFixed(1)} MB` : `${(bytes / 1024).toFixed(1)} KB`;
}

function verdict(outcome: VerifyOutcome | undefined): string {
  if (!outcome) return 'not verified';
  return `${outcome.ok ? '✅' : '❌'} ${outcome.level}${outcome.restoreMs !== undefined ? ` (restore ${outcome.restoreMs} ms)` : ''}${outcome.ok ? '' : `: ${outcome.problems.join('; ')}`}`;
}

function tablesTable(tables: Record<string, number>): string {
  const rows = Object.entries(tables).map(([table, n]) => [table, String(n)]);
  return rows.length ? markdownTable(['Table', 'Rows'], rows) : '_no tables_';
}

export function backupSummary(report: BackupReport, failure?: string): string {
  const parts = ['## Database backup'];
  if (failure) parts.push(`> [!CAUTION]\n> ${failure.replace(/\n/g, '\n> ')}`);
  if (report.plan.length) parts.push('Dry run — nothing written.', ...report.plan.map((p) => `- ${p}`));
  const m: Manifest | undefined = report.backup?.manifest;
  if (m && report.backup) {
    parts.push(
      markdownTable(
        ['File', 'Size', 'sha256', 'Tables', 'Rows', 'Duration', 'Verification'],
        [
          [
            report.backup.path,
            size(m.bytes),
            `\`${m.sha256.slice(0, 16)}…\``,
            String(Object.keys(m.tables).length),
            String(Object.values(m.tables).reduce((a, b) => a + b, 0)),
            `${(m.durationMs / 1000).toFixed(1)} s`,
            verdict(report.verification),
          ],
        ],
      ),
    );
    if (report.remotePath) parts.push(`Copied to the droplet: \`${report.remotePath}\``);
    parts.push(
      '<details><summary>Rows per table (same snapshot as the dump)</summary>\n',
      tablesTable(m.tables),
      '\n</details>',
    );
  }
  for (const r of report.retention) {
    if (r.removed.length)
      parts.push(`Retention in \`${r.where}\` removed: ${r.removed.map((f) => `\`${f}\``).join(', ')}`);
  }
  return parts.join('\n\n');
}

export function verifySummary(
  path: string,
  outcome: VerifyOutcome | undefined,
  plan: string[],
  failure?: string,
): string {
  const parts = ['## Backup verification'];
  if (failure) parts.push(`> [!CAUTION]\n> ${failure}`);
  if (plan.length) parts.push('Dry run — nothing checked.', ...plan.map((p) => `- ${p}`));
  if (outcome) {
    parts.push(markdownTable(['Backup', 'Level', 'Result'], [[path, outcome.level, verdict(outcome)]]));
    if (outcome.mismatches.length)
      parts.push(
        markdownTable(
          ['Table', 'Manifest', 'Restored'],
          outcome.mismatches.map((x) => [x.table, String(x.expected ?? '—'), String(x.actual ?? '—')]),
        ),
      );
    for (const note of outcome.notes) parts.push(`- ${note}`);
  }
  return parts.join('\n\n');
}

export function restoreSummary(backup: string, report: RestoreReport, failure?: string): string {
  const parts = ['## Database restore'];
  if (failure) parts.push(`> [!CAUTION]\n> ${failure}`);
  if (report?.plan.length && !report.restored) parts.push(...report.plan.map((p) => `- ${p}`));
  if (report) {
    parts.push(
      markdownTable(
        ['Backup', 'Restored', 'Time to restore', 'Safety backup'],
        [
          [
            backup,
            report.restored ? '✅ yes' : '❌ no',
            report.restoreMs !== undefined ? `${report.restoreMs} ms` : '—',
            report.safetyBackup ?? '—',
          ],
        ],
      ),
    );
    if (report.tables)
      parts.push(
        '<details><summary>Rows per table after the restore</summary>\n',
        tablesTable(report.tables),
        '\n</details>',
      );
  }
  return parts.join('\n\n');
}
