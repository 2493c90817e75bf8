/** The one entry of action-health and `runbook health`: read the inputs, verify, give outputs, a summary and the failure. */
import type { Inputs } from '../config/inputs.js';
import type { Log } from '../log.js';
import type { RunResult } from '../result.js';
import { healthFailure } from './failure.js';
import { readHealthOptions } from './inputs.js';
import { healthReportJson, healthSummaryMarkdown } from './summary.js';
import { verifyHealth } from './verify.js';

export async function runHealth(inputs: Inputs, deps: { log: Log }): Promise<RunResult> {
  const report = await verifyHealth(readHealthOptions(inputs), deps);
  if (report.healthy)
    deps.log.info(
      `healthy after ${report.attempts} attempt(s), ${report.latencyMs} ms, release ${report.version ?? 'not reported'}`,
    );
  return {
    outputs: {
      healthy: report.healthy,
      attempts: report.attempts,
      'latency-ms': report.latencyMs,
      'status-code': report.statusCode,
      version: report.version,
      report: healthReportJson(report),
    },
    summary: healthSummaryMarkdown(report),
    ...(report.healthy ? {} : { failure: healthFailure(report) }),
  };
}
