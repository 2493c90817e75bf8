/** action-diagnose: the runbook's P0/P1/P2 checks in one read-only step, judged into a severity. */
import '../../shared/src/action/dirname-shim.js';
import { actionInputs, actionLog, reportResult, runAction } from '../../shared/src/action/index.js';
import { runDiagnose } from '../../shared/src/diagnose/entry.js';

await runAction(async () => {
  const result = await runDiagnose(actionInputs, { log: actionLog });
  await reportResult(result);
});
