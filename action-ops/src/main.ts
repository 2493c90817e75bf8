/** action-ops: the runbook's emergency operations — planned, confirmed where destructive, verified. */
import '../../shared/src/action/dirname-shim.js';
import { actionInputs, actionLog, reportResult, runAction } from '../../shared/src/action/index.js';
import { githubRunContext } from '../../shared/src/action/run-context.js';
import { cancelOnSignals } from '../../shared/src/cancel.js';
import { runOps } from '../../shared/src/ops/entry.js';

await runAction(async () => {
  const result = await runOps(actionInputs, githubRunContext(), {
    log: actionLog,
    signal: cancelOnSignals(),
  });
  await reportResult(result);
});
