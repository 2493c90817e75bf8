/** The diagnosis as the job summary: severity, findings, then the tables an engineer scans. */
import { markdownTable, truncate } from '../report/markdown.js';
import type { DiagnoseReport } from './diagnose.js';

const ICON: Record<string, string> = { P0: '🔴 P0', P1: '🟠 P1', P2: '🟡 P2', P3: '🔵 P3', OK: '🟢 OK' };
const mib = (bytes: number) => `${Math.round(bytes / 1048576)} MiB`;

export function diagnoseSummary(report: DiagnoseReport): string {
  const o = report.observations;
  const out: string[] = [`## Diagnosis: ${ICON[report.severity]}`, ''];
  out.push(
    report.findings.length
      ? markdownTable(
          ['Severity', 'Where', 'Check', 'Why', 'Next step'],
          report.findings.map((f) => [ICON[f.severity] ?? f.severity, f.where, f.check, f.why, f.next]),
        )
      : 'No finding: every check passed.',
    '',
  );
  const apps = o.hosts.flatMap((h) =>
    (h.facts?.apps ?? [])
      .filter((a) => !o.app || a.name === o.app)
      .map((a) => [
        h.host,
        a.name,
        a.status,
        String(a.restarts),
        a.uptimeMs === undefined ? '' : `${Math.round(a.uptimeMs / 1000)} s`,
        mib(a.memoryBytes),
        `${a.cpuPercent}%`,
      ]),
  );
  if (apps.length)
    out.push(
      '### pm2',
      '',
      markdownTable(['Host', 'App', 'Status', 'Restarts', 'Uptime', 'Memory', 'CPU'], apps),
      '',
    );
  const hostRows = o.hosts.map((h) => {
    const f = h.facts;
    return [
      h.host,
      h.health
        ? `${h.health.ok ? 'ok' : 'FAIL'} ${h.health.statusCode ?? '-'} in ${h.health.latencyMs ?? '-'} ms`
        : 'not checked',
      f ? `${f.load.join(' ')} / ${f.cpus} CPU` : '',
      f
        ? `${Math.round(f.memory.availableKb / 1024)} of ${Math.round(f.memory.totalKb / 1024)} MiB free`
        : '',
      f ? f.disks.map((d) => `${d.mount} ${d.usedPercent}%`).join(', ') : '',
      f ? f.listening.join(' ') : '',
      h.error ?? '',
    ];
  });
  if (hostRows.length)
    out.push(
      '### Hosts',
      '',
      markdownTable(['Host', 'Health', 'Load', 'Memory', 'Disk', 'Listening', 'Error'], hostRows),
      '',
    );
  if (o.database) {
    out.push('### Database', '');
    if (o.database.error) out.push(`Not reachable: ${o.database.error}`, '');
    for (const r of o.database.results)
      out.push(
        `**${r.task}**: ${r.headline}`,
        '',
        r.rows.length ? markdownTable(r.header, r.rows.slice(0, 5)) : '',
        '',
      );
  }
  if (o.redis) {
    const r = o.redis;
    out.push(
      '### Redis',
      '',
      r.reachable
        ? `PONG in ${r.latencyMs} ms; memory ${mib(r.usedMemoryBytes ?? 0)}${r.maxMemoryBytes ? ` of ${mib(r.maxMemoryBytes)}` : ''}; ${r.connectedClients ?? '?'} clients (${r.blockedClients ?? 0} blocked); slowlog: ${r.slowlog.map((s) => `${s.command} ${Math.round(s.durationMicros / 1000)} ms`).join(', ') || 'empty'}`
        : `Not reachable: ${r.error}`,
      '',
    );
  }
  if (o.external.length)
    out.push(
      '### External APIs',
      '',
      markdownTable(
        ['URL', 'Status', 'Latency'],
        o.external.map((e) => [
          e.url,
          e.error ?? String(e.status),
          e.latencyMs === undefined ? '' : `${e.latencyMs} ms`,
        ]),
      ),
      '',
    );
  if (report.notChecked.length)
    out.push('### Not checked', '', ...report.notChecked.map((n) => `- ${n.check}: ${n.why}`), '');
  for (const l of report.logs.filter((x) => x.kind === 'err' && x.lines.length)) {
    out.push(
      `<details><summary>${l.host} ${l.app}: last ${l.lines.length} error log lines (redacted)</summary>`,
      '',
      '```',
      truncate(l.lines.join('\n'), 20_000),
      '```',
      '',
      '</details>',
      '',
    );
  }
  return out.join('\n');
}
