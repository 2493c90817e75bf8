/** action-rollback: back to the previous good release (or a named one), verified healthy. */
import '../../shared/src/action/dirname-shim.js';
import {
  actionInputs,
  actionLog,
  runAction,
  setOutputs,
  writeSummary,
} from '../../shared/src/action/index.js';
import { githubRunContext } from '../../shared/src/action/run-context.js';
import { readRollbackOptions } from '../../shared/src/releases/inputs.js';
import { cancelOnSignals } from '../../shared/src/cancel.js';
import { rollback } from '../../shared/src/releases/rollback.js';
import { releaseSummaryMarkdown } from '../../shared/src/releases/summary.js';

await runAction(async () => {
  const options = readRollbackOptions(actionInputs, githubRunContext());
  const report = await rollback(options, { log: actionLog, signal: cancelOnSignals() });
  setOutputs({
    release: report.release,
    'from-release': report.fromRelease,
    'hosts-report': JSON.stringify(report.hosts),
    'duration-ms': report.durationMs,
  });
  await writeSummary(
    releaseSummaryMarkdown(
      `Rollback of ${options.pm2.name}`,
      report.hosts,
      report.plan,
      report.failure?.message,
    ),
  );
  if (report.failure) throw report.failure;
});
