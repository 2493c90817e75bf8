/** Job summaries of the rotation modes: fingerprints only, never a value. */
import { markdownTable } from '../report/markdown.js';
import type { AuditReport } from './audit.js';
import type { RotationReport } from './rotate.js';

const OUTCOME: Record<string, string> = {
  planned: '📝 planned',
  untouched: '— untouched',
  unchanged: '✅ already held it, verified',
  updated: '✅ updated, verified',
  reverted: '↩️ put back, verified',
  'not-reverted': '🚨 NOT put back',
};

export function rotationSummary(report: RotationReport): string {
  const title =
    report.mode === 'rotate'
      ? `## Rotation of ${report.name}: ${report.previousFingerprint ?? '?'} → ${report.fingerprint ?? '?'}`
      : `## Retiring ${report.previousName} (${report.previousFingerprint ?? 'none'})`;
  const verdict = report.failure
    ? `**Failed${report.reverted ? ' — hosts reverted' : ''}:** ${report.failure.message}\n\n**What to do:** ${report.failure.hint}`
    : report.hosts.every((h) => h.outcome === 'planned')
      ? '**Dry run:** nothing was changed.'
      : '**Done.**';
  return [
    title,
    '',
    verdict,
    '',
    markdownTable(
      ['Host', 'Env file', 'Outcome', 'pm2', 'Backup', 'Error'],
      report.hosts.map((h) => [
        h.host,
        h.envFile,
        OUTCOME[h.outcome] ?? h.outcome,
        h.pm2 ?? '',
        h.backup ?? '',
        h.error ?? '',
      ]),
    ),
    '',
    report.mode === 'rotate'
      ? `**GitHub:** ${report.github.updated ? '✅ ' : '⚠️ '}${report.github.note}`
      : '',
    ...report.notes.map((n) => `- ${n}`),
    '',
    '<details><summary>Plan</summary>',
    '',
    ...report.plan.map((line) => `- ${line}`),
    '',
    '</details>',
    '',
    'Fingerprints are the first 8 hex digits of the sha256 of a value.',
  ].join('\n');
}

export function auditSummary(report: AuditReport): string {
  return [
    '## Secret age audit',
    '',
    report.failure
      ? `**Failed:** ${report.failure.message}`
      : report.warnings.length
        ? '**Warnings below.**'
        : '**All secrets within age.**',
    '',
    markdownTable(
      ['Host', 'Secret', 'Fingerprint', 'Rotated', 'Age (days)', 'Status', 'Notes'],
      report.rows.map((r) => [
        r.host,
        r.name,
        r.fingerprint ?? '',
        r.rotatedAt ?? 'never (by this suite)',
        r.ageDays === undefined ? '' : String(r.ageDays),
        r.status,
        r.notes.join('; '),
      ]),
    ),
    '',
    ...report.warnings.map((w) => `- ⚠️ ${w}`),
  ].join('\n');
}
