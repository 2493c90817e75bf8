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
  if (report.failure) throw report.failure;
});
