/** action-health: verify a deployment is alive, healthy and serving the expected release. */
import {
  actionInputs,
  actionLog,
  runAction,
  setOutputs,
  writeSummary,
} from '../../shared/src/action/index.js';
import { healthFailure } from '../../shared/src/health/failure.js';
import { readHealthOptions } from '../../shared/src/health/inputs.js';
import { healthReportJson, healthSummaryMarkdown } from '../../shared/src/health/summary.js';
import { verifyHealth } from '../../shared/src/health/verify.js';

await runAction(async () => {
  const options = readHealthOptions(actionInputs);
  const report = await verifyHealth(options, { log: actionLog });
  setOutputs({
    healthy: report.healthy,
    attempts: report.attempts,
    'latency-ms': report.latencyMs,
    'status-code': report.statusCode,
    version: report.version,
    report: healthReportJson(report),
  });
  await writeSummary(healthSummaryMarkdown(report));
  if (!report.healthy) throw healthFailure(report);
});
