/** An automatic rollback told as an incident: what the deploy report knows, in the template's terms. */
import type { DeployReport } from '../releases/deploy.js';
import type { Incident } from './report.js';

export function deployIncident(
  report: DeployReport,
  what: { sha: string; app: string; endedAt: Date; environment?: string; actor?: string; runUrl?: string },
): Incident {
  const end = what.endedAt.getTime();
  const started = new Date(end - report.durationMs).toISOString();
  const restored = report.hosts.filter((h) => h.restored);
  const allBack = report.hosts.every((h) => !h.switched || (h.restored && h.verified));
  const failing =
    report.hosts.find((h) => h.health && !h.health.healthy) ?? report.hosts.find((h) => h.error);
  return {
    name: `deploy-${what.sha.slice(0, 7)}-rolled-back`,
    title: `deploy of ${what.sha.slice(0, 7)} to ${what.app} failed and was rolled back`,
    // The runbook's P1: a bad deploy caught by its gate and rolled back automatically.
    severity: allBack
      ? 'P1 (caught by the deploy gate; rolled back automatically)'
      : 'P0 (a host may still serve the failed release)',
    ...(what.environment ? { environment: what.environment } : {}),
    detectedAt: started,
    detection:
      (failing?.health?.failure ?? failing?.error ?? report.failure?.message ?? 'the deploy failed').split(
        '\n',
      )[0] ?? '',
    steps: report.hosts.map((h) => ({
      name: `${h.host}: ${h.release ?? 'release'}`,
      startedAt: started,
      endedAt: new Date(end - report.durationMs + h.durationMs).toISOString(),
      outcome:
        h.restored || h.outcome === 'not-switched'
          ? 'failed'
          : h.outcome === 'deployed'
            ? 'succeeded'
            : 'failed',
      detail: `${h.outcome}; switched ${h.switched}, restored ${h.restored}, verified ${h.verified}${h.reachable ? '' : ', UNREACHABLE'}`,
    })),
    mitigation: restored.length
      ? `automatic rollback to ${restored.map((h) => `${h.previousRelease} on ${h.host}`).join(', ')}${allBack ? ', verified healthy' : ''}`
      : 'no host had switched: nothing serving changed',
    ...(allBack ? { recoveredAt: what.endedAt.toISOString() } : {}),
    ...(what.actor ? { actor: what.actor } : {}),
    ...(what.runUrl ? { runUrl: what.runUrl } : {}),
  };
}
