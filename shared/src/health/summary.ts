/** The health verification as markdown (job summary, CLI report) and as a compact JSON report. */
import { markdownTable, truncate } from '../report/markdown.js';
import type { HealthReport } from './verify.js';

const MAX_ROWS = 200;

export function healthSummaryMarkdown(report: HealthReport): string {
  const title = report.healthy ? '### ✅ Healthy' : '### ❌ Not healthy';
  const lines = [title, ''];
  if (report.failure) lines.push(report.failure, '');
  const rows = report.probes
    .slice(-MAX_ROWS)
    .map((probe) => [
      String(probe.attempt),
      probe.at.slice(11, 23),
      probe.url,
      probe.statusCode === undefined ? '-' : String(probe.statusCode),
      probe.latencyMs === undefined ? '-' : `${probe.latencyMs} ms`,
      probe.version ?? '-',
      probe.ok ? 'pass' : `FAIL: ${probe.failure ?? ''}`,
    ]);
  lines.push(markdownTable(['#', 'time (UTC)', 'url', 'status', 'latency', 'release', 'result'], rows));
  if (report.probes.length > MAX_ROWS)
    lines.push('', `(${report.probes.length - MAX_ROWS} earlier probes not shown)`);
  if (report.lastFailure?.body) {
    lines.push(
      '',
      '<details><summary>Body of the last failing answer</summary>',
      '',
      '```',
      report.lastFailure.body,
      '```',
      '</details>',
    );
  }
  if (report.database) {
    const db = report.database;
    lines.push('', '#### Database', '');
    lines.push(
      markdownTable(
        ['check', 'value'],
        [
          ['SELECT 1', db.ok ? `ok in ${db.latencyMs} ms` : (db.failure ?? 'failed')],
          ['connections by state', db.connectionsByState ? JSON.stringify(db.connectionsByState) : '-'],
          ['max_connections', db.maxConnections === undefined ? '-' : String(db.maxConnections)],
          [
            'database size',
            db.sizeBytes === undefined ? '-' : `${(db.sizeBytes / 1024 / 1024).toFixed(1)} MiB`,
          ],
        ],
      ),
    );
  }
  if (report.warnings.length > 0)
    lines.push('', '#### Warnings', '', ...report.warnings.map((w) => `- ${w}`));
  return lines.join('\n');
}

/** The `report` output: everything but the bodies of passing probes, bounded in size. */
export function healthReportJson(report: HealthReport): string {
  const compact = {
    ...report,
    probes: report.probes
      .slice(-50)
      .map((probe) => ({ ...probe, body: probe.body ? truncate(probe.body, 200) : undefined })),
    lastFailure: undefined,
  };
  return JSON.stringify(compact);
}
