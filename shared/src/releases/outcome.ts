/**
 * What a failed deploy tells the on-call engineer: exactly what is true on each host (switched?
 * restored? verified? reachable?), the worst first. A host that could not be reached again after
 * it switched comes first of all, with the command that puts it right.
 */
import { OperationError } from '../errors.js';
import type { HostRun } from './host-run.js';
import type { DeployOptions } from './strategy.js';

export function hostLine(run: HostRun): string {
  const r = run.report;
  if (!r.reachable)
    return `${run.name}: UNREACHABLE — ${r.switched ? `switched to ${r.release}` : `may have switched to ${r.release}`}, not restored, state unknown`;
  if (r.restored && r.firstDeploy === 'nothing-before')
    return `${run.name}: switched to ${r.release} (first deploy), taken back out: nothing ran before it, so the app is stopped and removed from pm2 and no current is left`;
  if (r.restored && r.firstDeploy === 'ran-before')
    return `${run.name}: switched to ${r.release} (first deploy), taken back out: what pm2 ran before it runs again, ${r.verified ? 'verified healthy' : 'NOT verified healthy'}`;
  if (r.restored)
    return `${run.name}: switched to ${r.release}, restored to ${r.previousRelease ?? 'stopped (no previous release)'}, ${r.verified ? 'verified healthy' : 'NOT verified healthy'}`;
  if (r.switched)
    return `${run.name}: switched to ${r.release}, NOT restored${r.error ? ` (${r.error})` : ''}`;
  return `${run.name}: not switched, still on ${r.previousRelease ?? 'nothing'}`;
}

/** The rollback to run by hand for hosts this run could not reach. */
export function rollbackCommand(runs: HostRun[], options: DeployOptions): string {
  const hosts = runs.map((run) => run.name).join(',');
  const release = runs.length === 1 && runs[0]?.previous ? ` --release ${runs[0].previous}` : '';
  return options.layout === 'legacy'
    ? `npm run runbook -- rollback --layout legacy --hosts ${hosts} --app-dir ${options.appDir} --app-name ${options.pm2.name} --health-url '${options.healthUrls.join(',')}' --ssh-key @KEYFILE --known-hosts @KNOWN_HOSTS`
    : `npm run runbook -- rollback --hosts ${hosts}${release} --app-dir ${options.appDir} --app-name ${options.pm2.name} --health-url '${options.healthUrls.join(',')}' --ssh-key @KEYFILE --known-hosts @KNOWN_HOSTS`;
}

export function describeOutcome(
  runs: HostRun[],
  reason: string,
  options: DeployOptions,
  failedRelease: string | undefined,
): OperationError {
  const unreachable = runs.filter((run) => !run.report.reachable);
  const notRestored = runs.filter(
    (run) => run.report.reachable && run.report.switched && !run.report.restored,
  );
  const unhealthy = runs.filter(
    (run) => run.report.restored && !run.report.verified && run.report.firstDeploy !== 'nothing-before',
  );
  const lines: string[] = [];
  if (unreachable.length > 0) {
    lines.push(
      `PRODUCTION MAY STILL SERVE THE FAILED RELEASE on ${unreachable.map((r) => r.name).join(', ')}: could not reach ${unreachable.length === 1 ? 'it' : 'them'} for ${Math.round(options.restoreDeadlineMs / 1000)} s (restore-deadline) to switch back.`,
    );
  }
  lines.push(`${reason}.`);
  lines.push(...runs.map((run) => `- ${hostLine(run)}`));
  const anyRestored = runs.some((run) => run.report.restored);
  let hint: string;
  if (unreachable.length > 0) {
    hint = `this is an incident. As soon as the host answers, run: ${rollbackCommand(unreachable, options)} — or the action-rollback workflow. The failed release ${failedRelease ?? ''} is marked bad on every host that could be reached.`;
  } else if (notRestored.length > 0 || unhealthy.length > 0) {
    hint =
      'this is an incident: a host could not be brought back healthy — act on the lines above now (check the database, Redis and `pm2 logs` on the host).';
  } else {
    const first = runs.every((run) => run.report.firstDeploy !== undefined || !run.report.restored);
    hint = `${anyRestored ? (first && runs.some((r) => r.report.firstDeploy) ? 'every host is as the deploy found it' : 'production is back on the previous release') : 'nothing serving was changed'}. The failed release ${failedRelease ?? ''} is kept and marked bad for forensics; read \`pm2 logs ${options.pm2.name} --lines 200\` on ${runs.find((r) => r.report.outcome === 'failed')?.name ?? 'the host'}.`;
  }
  return new OperationError(lines.join('\n'), hint);
}
