/** Deploy and rollback results as a job summary table. */
import { markdownTable } from '../report/markdown.js';
import type { HostReport } from './deploy.js';

const ICON: Record<HostReport['outcome'], string> = {
  deployed: '✅ deployed',
  'rolled-back': '↩️ rolled back',
  'not-switched': '⏸ not switched',
  failed: '❌ failed',
  planned: '📝 planned',
  unreachable: '🚨 UNREACHABLE',
};

const yesNo = (value: boolean) => (value ? 'yes' : 'no');

export function releaseSummaryMarkdown(
  title: string,
  hosts: HostReport[],
  plan: string[],
  failure?: string,
): string {
  const rows = hosts.map((h) => [
    h.host,
    ICON[h.outcome],
    h.release ?? '-',
    h.previousRelease ?? '-',
    h.health ? `${h.health.healthy ? 'healthy' : 'NOT healthy'} (${h.health.attempts} attempts)` : '-',
    h.rollbackHealth ? `${h.rollbackHealth.healthy ? 'healthy' : 'NOT healthy'}` : '-',
    yesNo(h.switched),
    yesNo(h.restored),
    yesNo(h.verified),
    h.reachable ? 'yes' : '**NO**',
    `${(h.durationMs / 1000).toFixed(1)} s`,
  ]);
  const lines = [`### ${failure ? '❌' : '✅'} ${title}`, ''];
  if (failure) lines.push(failure, '');
  lines.push(
    markdownTable(
      [
        'host',
        'outcome',
        'release',
        'previous',
        'health',
        'after rollback',
        'switched',
        'restored',
        'verified',
        'reachable',
        'time',
      ],
      rows,
    ),
  );
  const errors = hosts.filter((h) => h.error);
  if (errors.length > 0)
    lines.push('', '#### Errors', '', ...errors.map((h) => `- **${h.host}**: ${h.error}`));
  if (plan.length > 0)
    lines.push('', '<details><summary>Plan</summary>', '', ...plan.map((p) => `- ${p}`), '', '</details>');
  return lines.join('\n');
}
