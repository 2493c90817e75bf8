/** action-rollback: back to the previous good release (or a named one), verified healthy. */
import '../../shared/src/action/dirname-shim.js';
import { actionInputs, actionLog, reportResult, runAction } from '../../shared/src/action/index.js';
import { githubRunContext } from '../../shared/src/action/run-context.js';
import { cancelOnSignals } from '../../shared/src/cancel.js';
import { runRollback } from '../../shared/src/releases/run-rollback.js';

await runAction(async () => {
  const workspace = process.env.GITHUB_WORKSPACE;
  const result = await runRollback(actionInputs, githubRunContext(), {
    log: actionLog,
    signal: cancelOnSignals(),
    ...(workspace ? { workspace } : {}),
  });
  await reportResult(result);
});
