/** action-deploy: upload a release, switch to it atomically, prove it healthy, or roll back. */
import '../../shared/src/action/dirname-shim.js';
import {
  actionInputs,
  actionLog,
  runAction,
  setOutputs,
  writeSummary,
} from '../../shared/src/action/index.js';
import { githubRunContext } from '../../shared/src/action/run-context.js';
import { cancelOnSignals } from '../../shared/src/cancel.js';
import { deploy } from '../../shared/src/releases/deploy.js';
import { readDeployOptions } from '../../shared/src/releases/inputs.js';
import { releaseSummaryMarkdown } from '../../shared/src/releases/summary.js';
import { deployIncident } from '../../shared/src/incident/from-deploy.js';
import { incidentMarkdown, writeIncident } from '../../shared/src/incident/report.js';
import { resolve } from 'node:path';

await runAction(async () => {
  const options = readDeployOptions(actionInputs, githubRunContext());
  const report = await deploy(options, { log: actionLog, signal: cancelOnSignals() });
  setOutputs({
    release: report.release,
    'previous-release': report.previousRelease,
    'rolled-back': report.rolledBack,
    'hosts-report': JSON.stringify(report.hosts),
    'duration-ms': report.durationMs,
  });
  await writeSummary(
    releaseSummaryMarkdown(
      `Deploy ${options.sha.slice(0, 7)} to ${options.pm2.name}`,
      report.hosts,
      report.plan,
      report.failure?.message,
    ),
  );
  if (report.failure && report.rolledBack && actionInputs.boolean('incident-report', false)) {
    // The runbook's Incident Documentation: the post-mortem template filled in, in the workspace.
    const context = githubRunContext();
    const incident = deployIncident(report, {
      sha: options.sha,
      app: options.pm2.name,
      endedAt: new Date(),
      ...(actionInputs.string('environment')
        ? { environment: actionInputs.string('environment') as string }
        : {}),
      ...(context.holder.actor ? { actor: context.holder.actor } : {}),
      ...(context.holder.runUrl ? { runUrl: context.holder.runUrl } : {}),
    });
    const dir = resolve(
      process.env.GITHUB_WORKSPACE ?? '.',
      actionInputs.string('incident-dir') ?? 'incidents',
    );
    const path = writeIncident(dir, incident);
    setOutputs({ 'incident-report': path });
    await writeSummary(incidentMarkdown(incident));
  }
  if (report.failure) throw report.failure;
});
